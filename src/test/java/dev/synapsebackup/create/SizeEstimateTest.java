package dev.synapsebackup.create;

import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.Roots;
import dev.synapsebackup.synapse.MediaEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** The size estimate on its own: what it counts, and the sizes it derives for a full and an incremental backup. */
class SizeEstimateTest {
    @TempDir
    Path tmp;

    private static MediaEntry media(String path, boolean directory, long size) {
        FileTime t = FileTime.from(Instant.parse("2026-01-01T00:00:00Z"));
        return new MediaEntry(Path.of(path), directory, size, t, 0644, 1000, 1000, t);
    }

    private static ManifestSummary parentOf(long totalBytes) {
        return new ManifestSummary(1, "p", Instant.EPOCH, "test", "example.org", "full", null, "p", Roots.NONE,
                DatabaseRecord.none(), List.of(), 10, totalBytes);
    }

    @Test
    void nothingCountedIsEmpty() {
        SizeEstimate e = new SizeEstimate();
        assertThat(e.isEmpty()).isTrue();
        e.add(tmp.resolve("vanished"));
        assertThat(e.isEmpty()).as("a vanished file is not counted").isTrue();
        e.addReused();
        assertThat(e.isEmpty()).isFalse();
    }

    @Test
    void aFullBackupIsItsContentPlusTarAndManifestOverhead() throws IOException {
        SizeEstimate e = new SizeEstimate();
        e.add(Files.write(tmp.resolve("key"), new byte[1000]));
        e.addMedia(List.of(media("/m", true, 0), media("/m/a", false, 5000), media("/m/b", false, 7000)).iterator());
        // 3 files, 4 tar entries (the directory too), 13,000 bytes of content.
        long expected = 13_000 + (4 + 2) * SizeEstimate.ENTRY_OVERHEAD + 3 * SizeEstimate.MANIFEST_BYTES_PER_FILE
                + SizeEstimate.ARCHIVE_END;
        assertThat(e.plainBytes(null)).isEqualTo(expected);
    }

    @Test
    void anIncrementalIsBoundedByItsParentsTotal() throws IOException {
        SizeEstimate e = new SizeEstimate();
        e.add(Files.write(tmp.resolve("key"), new byte[1000]));
        e.addReused(); // the database, in the parent's object
        long overhead = 2 * SizeEstimate.ENTRY_OVERHEAD + SizeEstimate.ARCHIVE_END;
        assertThat(e.plainBytes(parentOf(1_000_000))).isEqualTo(1_000_000 + overhead);
        // A parent smaller than what is counted now: the count wins.
        assertThat(e.plainBytes(parentOf(10))).isEqualTo(1000 + overhead);
    }

    @Test
    void encryptionAddsItsFramingAndHeaders() {
        assertThat(SizeEstimate.cipherBytes(0)).isEqualTo(SizeEstimate.MESSAGE_OVERHEAD);
        long plain = 64L << 20;
        long cipher = SizeEstimate.cipherBytes(plain);
        // At least one byte of framing per 64 KiB packet, and the message's own packets.
        assertThat(cipher - plain).isGreaterThanOrEqualTo(plain / (64 << 10) + SizeEstimate.MESSAGE_OVERHEAD);
    }

    @Test
    void theEstimateCoversWhatOpenPgpReallyWrites() throws IOException {
        // What repo.create is told must not be less than the object the pipeline writes.
        java.util.Random random = new java.util.Random(7);
        for (int n : new int[] {0, 1, 65_535, 65_536, 3 << 20, (5 << 20) + 17}) {
            byte[] plain = new byte[n];
            random.nextBytes(plain);
            java.io.ByteArrayOutputStream cipher = new java.io.ByteArrayOutputStream();
            try (java.io.OutputStream out = OpenPgp.encrypt(cipher, Secret.of("size estimate"))) {
                for (int off = 0; off < n; off += 10_000) {
                    out.write(plain, off, Math.min(10_000, n - off));
                }
            }
            assertThat(SizeEstimate.cipherBytes(n)).as("estimate for %d plaintext bytes", n)
                    .isGreaterThanOrEqualTo(cipher.size());
        }
    }
}
