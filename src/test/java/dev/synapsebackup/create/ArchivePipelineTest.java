package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.EncryptionKey;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.Roots;
import dev.synapsebackup.repository.BackupId;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The archive pipeline on its own, into memory: files archived, vanished, reused from an earlier
 * backup and streamed; what it counts; and what the encrypted tar and its manifest hold.
 */
class ArchivePipelineTest {
    private static final Secret PASSPHRASE = Secret.of("pipeline");

    @TempDir
    Path tmp;

    @Test
    void archivesCountsAndListsEveryFileOnce() throws Exception {
        Path a = Files.writeString(tmp.resolve("a.yaml"), "server_name: example.org\n");
        Path b = Files.write(tmp.resolve("b.key"), new byte[70_000]);
        Path gone = tmp.resolve("gone");
        String earlier = BackupId.forTime(Instant.parse("2026-01-01T00:00:00Z"));
        Instant created = Instant.now().truncatedTo(ChronoUnit.MICROS);
        String id = BackupId.forTime(created);
        ManifestFile reused = new ManifestFile("var/lib/media/x", 123, created, 0640, 1000, 1000, "ab".repeat(32), earlier);
        ManifestSummary header = new ManifestSummary(Manifest.FORMAT, id, created, "test", "example.org", "incremental",
                earlier, earlier, new Roots(List.of(a.toString()), List.of(), List.of(), List.of()), DatabaseRecord.none(),
                List.of(), 0, 0);
        List<String> warnings = new ArrayList<>();
        AtomicLong advanced = new AtomicLong();
        Progress progress = new Progress() {
            @Override
            public void advance(long bytes) {
                advanced.addAndGet(bytes);
            }

            @Override
            public void warn(String message) {
                warnings.add(message);
            }
        };
        Path manifestFile = tmp.resolve("manifest.json");
        ByteArrayOutputStream object = new ByteArrayOutputStream();
        long fileCount;
        ArchiveCounters counters;
        byte[] chunk = "dump".getBytes(StandardCharsets.UTF_8);
        try (ArchivePipeline p = new ArchivePipeline(object, EncryptionKey.derive(PASSPHRASE), manifestFile, header,
                progress)) {
            p.add(a, Manifest.entryName(a));
            p.add(gone, Manifest.entryName(gone));
            p.add(b, Manifest.entryName(b));
            p.reuse(reused);
            p.addStream("db/chunk-0", new ByteArrayInputStream(chunk), chunk.length, 0600, created);
            fileCount = p.finish(DatabaseRecord.none());
            counters = p.counters();
        }

        long archived = Files.size(a) + Files.size(b) + chunk.length;
        assertThat(fileCount).isEqualTo(4);
        assertThat(counters.archivedFiles()).isEqualTo(3);
        assertThat(counters.archivedBytes()).isEqualTo(archived);
        assertThat(counters.sourceBytes()).isEqualTo(archived + reused.size());
        assertThat(counters.skipped()).containsExactly(new ManifestSummary.Skipped(gone.toString(),
                "vanished while the backup ran"));
        assertThat(warnings).containsExactly("skipped " + gone + ": vanished while the backup ran");
        // Progress counts the tar bytes written and the bytes found unchanged.
        assertThat(advanced.get()).isGreaterThan(archived + reused.size());

        List<String> names = new ArrayList<>();
        try (InputStream plain = OpenPgp.decrypt(new ByteArrayInputStream(object.toByteArray()), PASSPHRASE)) {
            TarReader tar = new TarReader(plain);
            for (TarReader.Entry e; (e = tar.next()) != null; ) {
                names.add(e.name());
            }
            plain.transferTo(java.io.OutputStream.nullOutputStream()); // to the end: the MDC is checked
        }
        assertThat(names).containsExactly(Manifest.entryName(a), Manifest.entryName(b), "db/chunk-0",
                Manifest.TAR_ENTRY);

        List<ManifestFile> listed = new ArrayList<>();
        try (Manifest.FileIterator files = Manifest.files(manifestFile)) {
            files.forEachRemaining(listed::add);
            assertThat(files.summary().fileCount()).isEqualTo(4);
            assertThat(files.summary().skipped()).extracting(ManifestSummary.Skipped::path).containsExactly(gone.toString());
        }
        assertThat(listed).extracting(ManifestFile::path).containsExactly(Manifest.entryName(a), Manifest.entryName(b),
                "var/lib/media/x", "db/chunk-0");
        assertThat(listed).extracting(ManifestFile::backup).containsExactly(id, id, earlier, id);
    }
}
