package dev.synapsebackup.archive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.SynapseBackupException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded fuzzing of {@link TarReader} + {@link SafeExtractor}: random archives built from hostile
 * parts (".." and ".", absolute paths, NUL, very long names, links to outside, devices, FIFOs,
 * directories over files and files over directories), then randomly mutated (flipped bytes, size
 * fields set to absurd values with valid checksums, truncation). Whatever the input, extraction
 * either succeeds or fails with an IOException or a SynapseBackupException (never another
 * exception or error), writes nothing outside its root, and leaves only regular files and
 * directories inside it.
 *
 * <p>{@value #CASES} cases from seed {@value #SEED}; {@code -Dfuzz.cases=N -Dfuzz.seed=S} runs others.
 */
class SafeExtractorFuzzTest {
    static final int CASES = 3000;
    static final long SEED = 20261122L;

    private static final String[] PARTS = {"..", ".", "", "a", "b", "media", "..\\..", "/", "//", "~", "x\0y",
        "\u00e9\u4e2d", "local_content", "n".repeat(150), ". .", "..."};
    private static final String[] LINK_TARGETS = {"/etc/passwd", "../../../../etc/shadow", "..", "a", "/", "../outside/x",
        "a/../../.."};

    @TempDir
    Path tmp;

    @Test
    void noInputEscapesTheRootOrFailsUncleanly() throws IOException {
        int cases = Integer.getInteger("fuzz.cases", CASES);
        long seed = Long.getLong("fuzz.seed", SEED);
        Random random = new Random(seed);
        int extractedCleanly = 0;
        int refused = 0;
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("sentinel"), "untouched");
        for (int c = 0; c < cases; c++) {
            byte[] archive = mutate(build(random), random);
            Path root = Files.createDirectories(tmp.resolve("root"));
            boolean ok = false;
            try (TarReader r = new TarReader(new ByteArrayInputStream(archive))) {
                SafeExtractor x = new SafeExtractor(root);
                TarReader.Entry e;
                while ((e = r.next()) != null) {
                    x.extract(e);
                }
                x.finish();
                ok = true;
            } catch (IOException | SynapseBackupException expected) {
                assertThat(expected.getMessage()).as("case %d: a message", c).isNotBlank();
            } catch (RuntimeException | Error unexpected) {
                throw new AssertionError("case " + c + " (seed " + seed + "): " + unexpected, unexpected);
            }
            if (ok) {
                extractedCleanly++;
            } else {
                refused++;
            }
            assertOnlyFilesAndDirs(root, c);
            try (Stream<Path> s = Files.list(tmp)) {
                assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).as("case %d", c)
                        .containsExactly("outside", "root");
            }
            try (Stream<Path> s = Files.list(outside)) {
                assertThat(s.toList()).as("case %d", c).containsExactly(outside.resolve("sentinel"));
            }
            assertThat(Files.readString(outside.resolve("sentinel"))).isEqualTo("untouched");
            deleteTree(root);
        }
        // Both outcomes must really occur, or the generator is not testing much.
        assertThat(extractedCleanly).isGreaterThan(cases / 20);
        assertThat(refused).isGreaterThan(cases / 20);
        System.out.printf("SafeExtractorFuzzTest: %d cases (seed %d): %d extracted, %d refused%n", cases, seed,
                extractedCleanly, refused);
    }

    private static void assertOnlyFilesAndDirs(Path root, int c) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                assertThat(a.isRegularFile() || a.isDirectory()).as("case %d: %s is a file or directory", c, p).isTrue();
                assertThat(p.toAbsolutePath().normalize().startsWith(root)).isTrue();
            }
        }
    }

    private static String name(Random r) {
        int n = 1 + r.nextInt(5);
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            parts.add(PARTS[r.nextInt(PARTS.length)]);
        }
        return (r.nextInt(4) == 0 ? "/" : "") + String.join("/", parts) + (r.nextInt(8) == 0 ? "/" : "");
    }

    private static byte[] build(Random r) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(buf)) {
            t.setLongFileMode(r.nextBoolean() ? TarArchiveOutputStream.LONGFILE_POSIX : TarArchiveOutputStream.LONGFILE_GNU);
            t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            t.setAddPaxHeadersForNonAsciiNames(true);
            int entries = 1 + r.nextInt(6);
            for (int i = 0; i < entries; i++) {
                String name = name(r);
                if (name.isEmpty()) {
                    name = "a";
                }
                int kind = r.nextInt(10);
                TarArchiveEntry e;
                byte[] data = new byte[0];
                switch (kind) {
                    case 0 -> e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, true);
                    case 1 -> {
                        e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
                        e.setLinkName(LINK_TARGETS[r.nextInt(LINK_TARGETS.length)]);
                    }
                    case 2 -> {
                        e = new TarArchiveEntry(name, TarConstants.LF_LINK, true);
                        e.setLinkName(LINK_TARGETS[r.nextInt(LINK_TARGETS.length)]);
                    }
                    case 3 -> e = new TarArchiveEntry(name, r.nextBoolean() ? TarConstants.LF_CHR : TarConstants.LF_FIFO, true);
                    default -> {
                        e = new TarArchiveEntry(name.endsWith("/") ? name + "f" : name, TarConstants.LF_NORMAL, true);
                        data = new byte[r.nextInt(3000)];
                        r.nextBytes(data);
                        e.setSize(data.length);
                    }
                }
                e.setMode((kind == 0 ? 040000 : 0100000) | r.nextInt(01000));
                try {
                    t.putArchiveEntry(e);
                } catch (IllegalArgumentException unwritable) {
                    continue; // commons-compress refuses to write some names: nothing to test there
                }
                t.write(data);
                t.closeArchiveEntry();
            }
        }
        return buf.toByteArray();
    }

    private static byte[] mutate(byte[] tar, Random r) {
        byte[] t = tar.clone();
        switch (r.nextInt(5)) {
            case 0 -> {
                return t; // as written
            }
            case 1 -> {
                int flips = 1 + r.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    t[r.nextInt(Math.min(t.length, 4096))] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 2 -> {
                // An absurd size with a valid checksum in a random header.
                int header = 512 * r.nextInt(Math.max(1, Math.min(t.length, 4096) / 512));
                byte[] size = (r.nextBoolean() ? "77777777777\0" : "\u0080\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff")
                        .getBytes(StandardCharsets.ISO_8859_1);
                System.arraycopy(size, 0, t, header + 124, 12);
                fixChecksum(t, header);
            }
            case 3 -> {
                return Arrays.copyOf(t, r.nextInt(t.length));
            }
            default -> {
                // Random bytes written over a random header field, checksum fixed.
                int header = 512 * r.nextInt(Math.max(1, Math.min(t.length, 4096) / 512));
                int off = r.nextInt(500);
                for (int i = 0; i < 1 + r.nextInt(12) && off + i < 512; i++) {
                    t[header + off + i] = (byte) r.nextInt(256);
                }
                fixChecksum(t, header);
            }
        }
        return t;
    }

    private static void fixChecksum(byte[] tar, int header) {
        Arrays.fill(tar, header + 148, header + 156, (byte) ' ');
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += tar[header + i] & 0xff;
        }
        byte[] field = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(field, 0, tar, header + 148, 8);
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                try {
                    Files.setPosixFilePermissions(p.getParent(), java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
                } catch (IOException ignored) {
                    // best effort: read-only directories from the archive
                }
                Files.delete(p);
            }
        }
    }
}
