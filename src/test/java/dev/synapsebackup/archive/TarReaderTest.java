package dev.synapsebackup.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.testing.Procs;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TarReaderTest {
    @TempDir
    Path tmp;

    private static List<FileRecord> extract(InputStream in, SafeExtractor x) throws IOException {
        List<FileRecord> out = new ArrayList<>();
        try (TarReader r = new TarReader(in)) {
            for (TarReader.Entry e = r.next(); e != null; e = r.next()) {
                out.add(x.extract(e));
            }
        }
        x.finish();
        return out;
    }

    @Test
    void readsWhatGnuTarWritesInPosixAndGnuFormat() throws IOException {
        Path src = Files.createDirectory(tmp.resolve("src"));
        TarTestTrees.build(src);
        for (String format : new String[] {"posix", "gnu", "ustar-less-default"}) {
            Path archive = tmp.resolve(format + ".tar");
            List<String> cmd = new ArrayList<>(List.of("tar"));
            if (!format.startsWith("ustar")) {
                cmd.add("--format=" + format);
            }
            cmd.addAll(List.of("-cf", archive.toString(), "-C", src.toString(), "."));
            Procs.Result c = Procs.run(cmd, (byte[]) null, Map.of(), null);
            assertThat(c.exitCode()).as(c.stderr()).isZero();

            Path dest = tmp.resolve("dest-" + format);
            List<FileRecord> records = extract(Files.newInputStream(archive), new SafeExtractor(dest));
            Map<String, String> expected = new java.util.TreeMap<>(TarTestTrees.describe(src));
            if (!format.equals("posix")) {
                // only PAX carries sub-second mtimes
                expected.computeIfPresent("empty", (k, v) -> v.replace(".123456Z", "Z"));
            }
            assertThat(TarTestTrees.describe(dest)).as(format).isEqualTo(expected);
            assertThat(records).extracting(FileRecord::path)
                    .contains(TarTestTrees.LONG_FILE, TarTestTrees.UNICODE_FILE, "readonly")
                    .noneMatch(p -> p.startsWith("./") || p.isEmpty());
        }
    }

    @Test
    void readsAbsolutePathsAsGnuTarStoresThem() throws IOException {
        Path src = Files.createDirectory(tmp.resolve("abs"));
        Files.writeString(src.resolve("f.txt"), "abs");
        Path archive = tmp.resolve("abs.tar");
        // GNU tar strips the leading "/" itself (with a notice on stderr)
        Procs.Result c = Procs.run(List.of("tar", "--format=posix", "-cf", archive.toString(), src.toString()),
                (byte[]) null, Map.of(), null);
        assertThat(c.exitCode()).as(c.stderr()).isZero();
        Path dest = tmp.resolve("dest");
        extract(Files.newInputStream(archive), new SafeExtractor(dest));
        assertThat(dest.resolve(src.toString().substring(1)).resolve("f.txt")).hasContent("abs");
    }

    @Test
    void corruptHeaderIsAClearIntegrityFailureNamingTheOffset() throws IOException {
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve("a"), "first");
        Files.writeString(src.resolve("b"), "second");
        Path archive = tmp.resolve("x.tar");
        Procs.run(List.of("tar", "--format=ustar", "-cf", archive.toString(), "-C", src.toString(), "a", "b"),
                (byte[]) null, Map.of(), null);
        byte[] bytes = Files.readAllBytes(archive);
        // second header starts at 1024; garble its size field
        byte[] bad = bytes.clone();
        System.arraycopy("zzzzzzzzzzz".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, bad, 1024 + 124, 11);
        try (TarReader r = new TarReader(new ByteArrayInputStream(bad))) {
            assertThat(r.next().name()).isEqualTo("a");
            assertThatThrownBy(r::next).isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("corrupt tar header at offset 1024")
                    .hasMessageContaining("after entry \"a\"");
        }
    }

    @Test
    void truncatedArchiveIsAnIntegrityFailure() throws IOException {
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.write(src.resolve("a"), new byte[5000]);
        Path archive = tmp.resolve("x.tar");
        Procs.run(List.of("tar", "-cf", archive.toString(), "-C", src.toString(), "a"), (byte[]) null, Map.of(), null);
        byte[] cut = Arrays.copyOf(Files.readAllBytes(archive), 3000);
        try (TarReader r = new TarReader(new ByteArrayInputStream(cut))) {
            TarReader.Entry e = r.next();
            assertThatThrownBy(() -> e.content().readAllBytes()).isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("\"a\"");
        }
    }

    @Test
    void failureOfTheSourceIsPassedOnUnchanged() {
        InputStream failing = new InputStream() {
            @Override
            public int read() throws IOException {
                throw new IOException("disk on fire");
            }
        };
        TarReader r = new TarReader(failing);
        assertThatThrownBy(r::next).isNotInstanceOf(IntegrityException.class)
                .hasMessageContaining("disk on fire");
    }

    @Test
    void staleEntryContentCannotBeRead() throws IOException {
        Path src = Files.createDirectory(tmp.resolve("src"));
        Files.writeString(src.resolve("a"), "1");
        Files.writeString(src.resolve("b"), "2");
        Path archive = tmp.resolve("x.tar");
        Procs.run(List.of("tar", "-cf", archive.toString(), "-C", src.toString(), "a", "b"), (byte[]) null, Map.of(), null);
        try (TarReader r = new TarReader(Files.newInputStream(archive))) {
            TarReader.Entry a = r.next();
            TarReader.Entry b = r.next();
            assertThatThrownBy(() -> a.content().read()).isInstanceOf(IOException.class);
            assertThat(new String(b.content().readAllBytes())).isEqualTo("2");
            assertThat(r.next()).isNull();
        }
    }
}
