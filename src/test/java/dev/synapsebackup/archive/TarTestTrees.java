package dev.synapsebackup.archive;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.io.Sha256;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Builds and compares real directory trees for the tar tests. */
final class TarTestTrees {
    static final String LONG_DIR = "deep/" + "d".repeat(90) + "/" + "e".repeat(60);
    static final String LONG_FILE = LONG_DIR + "/" + "f".repeat(40) + ".bin";
    static final String UNICODE_FILE = "media/ünïcødé Grüße 日本語.txt";

    private TarTestTrees() {
    }

    /** A tree with odd modes, mtimes, a long path, a non-ASCII name, empty and larger files. */
    static void build(Path base) throws IOException {
        Random r = new Random(42);
        write(base, "homeserver.yaml", "server_name: example.org\n".getBytes(StandardCharsets.UTF_8), 0640, 1_600_000_000L);
        write(base, "example.org.signing.key", "ed25519 a_abcd secret\n".getBytes(StandardCharsets.UTF_8), 0600, 1_600_000_100L);
        write(base, "empty", new byte[0], 0644, 1_600_000_200L);
        byte[] big = new byte[3 * 1024 * 1024 + 17];
        r.nextBytes(big);
        write(base, "media/local_content/ab/cd/efghijkl", big, 0644, 1_700_000_000L);
        write(base, "media/script.sh", "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.UTF_8), 0755, 1_650_000_000L);
        byte[] longContent = new byte[5000];
        r.nextBytes(longContent);
        write(base, LONG_FILE, longContent, 0444, 1_690_000_000L);
        write(base, UNICODE_FILE, "grüße\n".getBytes(StandardCharsets.UTF_8), 0644, 1_680_000_000L);
        write(base, "readonly/inside.txt", "ro\n".getBytes(StandardCharsets.UTF_8), 0644, 1_610_000_000L);
        // sub-second mtime must survive too
        Files.setLastModifiedTime(base.resolve("empty"), FileTime.from(Instant.ofEpochSecond(1_600_000_200L, 123_456_789)));
        Files.setAttribute(base.resolve("readonly"), "unix:mode", 0555);
        Files.setLastModifiedTime(base.resolve("readonly"), FileTime.from(Instant.ofEpochSecond(1_500_000_000L)));
    }

    static void write(Path base, String rel, byte[] data, int mode, long mtime) throws IOException {
        Path p = base.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.write(p, data);
        Files.setAttribute(p, "unix:mode", mode);
        Files.setLastModifiedTime(p, FileTime.from(Instant.ofEpochSecond(mtime)));
    }

    /** Describes every file and directory below base: type, mode, mtime, sha256. */
    static Map<String, String> describe(Path base) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(base)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(base)) {
                    continue;
                }
                Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
                String rel = base.relativize(p).toString();
                String kind = Boolean.TRUE.equals(a.get("isDirectory")) ? "dir"
                        : Boolean.TRUE.equals(a.get("isRegularFile")) ? "file" : "other";
                String sha = kind.equals("file") ? Sha256.hexOf(Files.readAllBytes(p)) : "-";
                String mtime = kind.equals("dir") && !rel.equals("readonly") ? "-"
                        : ((FileTime) a.get("lastModifiedTime")).toInstant()
                                .truncatedTo(java.time.temporal.ChronoUnit.MICROS).toString();
                out.put(rel, kind + " " + Integer.toOctalString((Integer) a.get("mode") & 07777)
                        + " " + mtime + " " + sha);
            }
        }
        return out;
    }

    /** Adds base's tree with TarWriter under entry names prefix + relative path. */
    static List<FileRecord> addTree(TarWriter w, Path base, String prefix) throws IOException {
        List<FileRecord> records = new ArrayList<>();
        try (Stream<Path> s = Files.walk(base)) {
            for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                if (p.equals(base)) {
                    continue;
                }
                String name = prefix + base.relativize(p);
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    records.add(w.addDirectory(p, name));
                } else {
                    TarWriter.AddResult res = w.addFile(p, name);
                    assertThat(res.changedWhileReading()).as(name).isFalse();
                    records.add(res.record());
                }
            }
        }
        return records;
    }
}
