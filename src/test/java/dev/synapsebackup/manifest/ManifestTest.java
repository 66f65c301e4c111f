package dev.synapsebackup.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {
    @TempDir
    Path tmp;

    @Test
    void onePassGivesTheRecordsAndTheSameSummaryAsReadSummary() throws Exception {
        Path file = tmp.resolve("manifest.json");
        ManifestSummary header = new ManifestSummary(Manifest.FORMAT, "backup-20261126000000000001",
                Instant.parse("2026-11-26T00:00:00.000001Z"), "test", "example.org", "incremental",
                "backup-20261125000000000001", "backup-20261120000000000001",
                new Roots(List.of(), List.of(), List.of(), List.of("/var/lib/synapse/media")), DatabaseRecord.none(),
                List.of(), 0, 0);
        List<ManifestFile> records = List.of(
                new ManifestFile("etc/synapse/homeserver.yaml", 10, Instant.parse("2026-01-01T00:00:00Z"), 0640, 0, 0,
                        "a".repeat(64), "backup-20261126000000000001"),
                new ManifestFile("var/lib/synapse/homeserver.db", 4096, Instant.parse("2026-01-02T00:00:00.5Z"), 0600,
                        998, 998, "b".repeat(64), "backup-20261120000000000001"),
                new ManifestFile("var/lib/synapse/media/local_content/ab/cd/ef", 7, Instant.parse("2026-01-03T00:00:00.123456Z"),
                        0644, 998, 998, "c".repeat(64), "backup-20261125000000000001"));
        Map<String, Object> db = new LinkedHashMap<>();
        db.put("engine", "sqlite3");
        db.put("source", Map.of("taken", "2026-11-26T00:00:00Z", "files", List.of()));
        try (OutputStream out = Files.newOutputStream(file); Manifest.Writer w = new Manifest.Writer(out, header)) {
            for (ManifestFile f : records) {
                w.file(f);
            }
            w.finish(DatabaseRecord.fromManifest(db), List.of(new ManifestSummary.Skipped("/x", "vanished while the backup ran")));
        }

        List<ManifestFile> read = new ArrayList<>();
        ManifestSummary onePass;
        try (Manifest.FileIterator it = Manifest.files(file)) {
            assertThatThrownBy(it::summary).isInstanceOf(IllegalStateException.class);
            it.forEachRemaining(read::add);
            onePass = it.summary();
        }
        assertThat(read).isEqualTo(records);
        ManifestSummary summary = Manifest.readSummary(file);
        assertThat(onePass).isEqualTo(summary);
        assertThat(summary.fileCount()).isEqualTo(3);
        assertThat(summary.totalBytes()).isEqualTo(10 + 4096 + 7);
        assertThat(summary.parent()).isEqualTo("backup-20261125000000000001");
        assertThat(summary.database()).isInstanceOf(DatabaseRecord.Sqlite.class);
        assertThat(summary.database().fields()).containsEntry("engine", "sqlite3").containsKey("source");
        assertThat(summary.skipped()).containsExactly(new ManifestSummary.Skipped("/x", "vanished while the backup ran"));
        assertThat(Manifest.headerBackupId(file)).isEqualTo("backup-20261126000000000001");
    }

    @Test
    void directoriesAboveTheRootsRoundTripAndOlderManifestsHaveNone() throws Exception {
        Path file = tmp.resolve("dirs.json");
        List<ManifestDirectory> dirs = List.of(
                new ManifestDirectory("var/lib/matrix-synapse", 0750, 998, 997, "matrix-synapse", "matrix-synapse",
                        Instant.parse("2026-01-01T00:00:00.123456Z")),
                new ManifestDirectory("var/lib/matrix-synapse/media_store", 02750, 998, 997, null, null,
                        Instant.parse("2026-01-02T00:00:00Z")));
        ManifestSummary header = new ManifestSummary(Manifest.FORMAT, "backup-20261126000000000001",
                Instant.parse("2026-11-26T00:00:00.000001Z"), "test", "example.org", "full", null,
                "backup-20261126000000000001", Roots.NONE, DatabaseRecord.none(), List.of(), 0, 0, dirs);
        try (OutputStream out = Files.newOutputStream(file); Manifest.Writer w = new Manifest.Writer(out, header)) {
            w.finish(DatabaseRecord.none(), List.of());
        }
        assertThat(Files.readString(file)).contains("\"directories\":[{\"path\":\"var/lib/matrix-synapse\",\"mode\":\"0750\"");
        assertThat(Manifest.readSummary(file).directories()).isEqualTo(dirs);
        try (Manifest.FileIterator it = Manifest.files(file)) {
            assertThat(it.hasNext()).isFalse();
            assertThat(it.summary().directories()).isEqualTo(dirs);
        }
        // as written before the field existed: same format number, no field
        Path older = Files.writeString(tmp.resolve("older.json"), "{\"format\":1,\"backup-id\":\"backup-1\","
                + "\"created\":\"2026-01-01T00:00:00Z\",\"files\":[]}");
        assertThat(Manifest.readSummary(older).directories()).isEmpty();
    }

    @Test
    void parentDirectoriesStopAtTheFirstDirectoryEverySystemHas() throws Exception {
        // tmp is below /tmp, which every system has: recorded are tmp's own directory and below
        Path root = Files.createDirectories(tmp.resolve("data/media_store/local_content"));
        Path db = Files.writeString(tmp.resolve("data/homeserver.db"), "");
        Files.setPosixFilePermissions(tmp.resolve("data"), java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-x---"));
        List<ManifestDirectory> dirs = ParentDirectories.of(List.of(root, db)).records();
        List<String> expected = new ArrayList<>();
        for (Path p = tmp.resolve("data/media_store"); !p.equals(Path.of("/tmp")); p = p.getParent()) {
            expected.add(0, p.toString().substring(1));
        }
        assertThat(tmp.startsWith("/tmp")).isTrue();
        assertThat(dirs.stream().map(ManifestDirectory::path).toList()).isEqualTo(expected);
        assertThat(dirs.stream().filter(d -> d.path().endsWith("/data")).findFirst().orElseThrow().mode()).isEqualTo(0750);
        assertThat(ParentDirectories.of(List.of(Path.of("/etc/hostname"), Path.of("/var/lib/x/y"))).records()).isEmpty();
    }

    @Test
    void mediaRecordsStreamAfterTheFilesAndTheSummaryCountsThem() throws Exception {
        Path file = tmp.resolve("media.json");
        MediaStore store = new MediaStore(0, "http://s3.example:9000", null, "synapse-media", "m/",
                List.of("m/local_content/", "m/local_thumbnails/"));
        ManifestSummary header = new ManifestSummary(Manifest.FORMAT, "backup-20261126000000000002",
                Instant.parse("2026-11-26T00:00:00.000002Z"), "test", "example.org", "incremental",
                "backup-20261126000000000001", "backup-20261126000000000001", Roots.NONE, DatabaseRecord.none(),
                List.of(), 0, 0, List.of(), new MediaSummary(List.of(store), 0, 0));
        ManifestFile f = new ManifestFile("etc/synapse/homeserver.yaml", 10, Instant.parse("2026-01-01T00:00:00Z"), 0640,
                0, 0, "a".repeat(64), "backup-20261126000000000002");
        List<MediaObject> media = List.of(
                new MediaObject(0, "synapse-media", "m/local_content/aa/bb/x", 5, "e1", "e1", null,
                        "backup-20261126000000000001"),
                new MediaObject(0, "synapse-media", "m/local_content/aa/bb/y", 7, "e2", null, "c".repeat(64),
                        "backup-20261126000000000002"),
                // media-encryption: an OpenPGP message of 90 bytes holds the 3 bytes of plaintext
                new MediaObject(0, "synapse-media", "m/local_content/aa/bb/z", 3, "e3", null, "d".repeat(64),
                        "backup-20261126000000000002", true, 90));
        try (OutputStream out = Files.newOutputStream(file); Manifest.Writer w = new Manifest.Writer(out, header)) {
            w.file(f);
            w.beginMedia();
            for (MediaObject m : media) {
                w.mediaObject(m);
            }
            w.finish(DatabaseRecord.none(), List.of());
        }
        try (Manifest.FileIterator it = Manifest.files(file)) {
            assertThat(it.next()).isEqualTo(f);
            assertThat(it.hasNext()).isFalse();
            List<MediaObject> read = new ArrayList<>();
            it.media().forEachRemaining(read::add);
            assertThat(read).isEqualTo(media);
            ManifestSummary s = it.summary();
            assertThat(s.media()).isEqualTo(new MediaSummary(List.of(store), 3, 15));
            assertThat(s.fileCount()).isEqualTo(1);
        }
        // One pass without reading the media records, and readSummary, agree.
        try (Manifest.FileIterator it = Manifest.files(file)) {
            it.next();
            assertThat(it.summary()).isEqualTo(Manifest.readSummary(file));
        }
        // A manifest without media has no media records.
        Path plain = tmp.resolve("plain.json");
        try (OutputStream out = Files.newOutputStream(plain); Manifest.Writer w = new Manifest.Writer(out,
                new ManifestSummary(Manifest.FORMAT, "backup-20261126000000000003", Instant.parse("2026-11-26T00:00:00Z"),
                        "test", "example.org", "full", null, "backup-20261126000000000003", Roots.NONE,
                        DatabaseRecord.none(), List.of(), 0, 0))) {
            w.finish(DatabaseRecord.none(), List.of());
        }
        try (Manifest.FileIterator it = Manifest.files(plain)) {
            assertThat(it.media().hasNext()).isFalse();
            assertThat(it.summary().media().isEmpty()).isTrue();
        }
        assertThat(MediaObject.KEY_ORDER.compare("a\uFFFF", "a\uD83D\uDE00")).isNegative(); // code point order, as S3
    }

    @Test
    void headerOfANewerFormatOrWithoutAnIdIsRefused() throws Exception {
        Path newer = Files.writeString(tmp.resolve("newer.json"), "{\"format\":99,\"backup-id\":\"b\",\"files\":[]}");
        assertThatThrownBy(() -> Manifest.headerBackupId(newer)).isInstanceOf(dev.synapsebackup.IntegrityException.class)
                .hasMessage("the manifest is not valid: manifest format 99 is newer than this tool understands (1)");
        Path noId = Files.writeString(tmp.resolve("noid.json"), "{\"format\":1,\"files\":[]}");
        assertThatThrownBy(() -> Manifest.headerBackupId(noId)).isInstanceOf(dev.synapsebackup.IntegrityException.class)
                .hasMessageContaining("missing \"backup-id\"");
    }
}
