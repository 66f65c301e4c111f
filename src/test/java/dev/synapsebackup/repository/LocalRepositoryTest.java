package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.RepositoryAccessException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalRepositoryTest {
    @TempDir
    Path dir;

    @Test
    void streamingWriteIsInvisibleUntilCommitAndRoundTrips() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        byte[] data = new byte[3 * 1024 * 1024 + 17];
        new Random(1).nextBytes(data);
        ObjectWriter w = repo.create("backup-1", data.length, Map.of(BackupId.FORMAT_METADATA, "1"));
        w.write(data, 0, 1000);
        // A crash here (between write and rename) must leave nothing visible.
        assertThat(repo.stat("backup-1")).isEmpty();
        assertThat(repo.list()).isEmpty();
        assertThat(visibleFiles()).isEmpty();
        w.write(data, 1000, data.length - 1000);
        ObjectInfo info = w.commit();
        w.close();
        assertThat(info.size()).isEqualTo(data.length);
        try (InputStream in = repo.open("backup-1")) {
            assertThat(in.readAllBytes()).isEqualTo(data);
        }
        assertThat(repo.stat("backup-1").orElseThrow().metadata()).containsEntry(BackupId.FORMAT_METADATA, "1");
        assertThat(hiddenTempFiles()).isEmpty();
    }

    @Test
    void writesLargerThanTheBackgroundSyncStepRoundTrip() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        byte[] chunk = new byte[1 << 20];
        java.security.MessageDigest written = dev.synapsebackup.io.Sha256.newDigest();
        Random r = new Random(2);
        long total = LocalObjectWriter.SYNC_EVERY * 2 + 12345;
        try (ObjectWriter w = repo.create("backup-big", total, Map.of())) {
            for (long n = 0; n < total; ) {
                int len = (int) Math.min(chunk.length, total - n);
                r.nextBytes(chunk);
                w.write(chunk, 0, len);
                written.update(chunk, 0, len);
                n += len;
            }
            assertThat(w.commit().size()).isEqualTo(total);
        }
        java.security.MessageDigest read = dev.synapsebackup.io.Sha256.newDigest();
        try (InputStream in = repo.open("backup-big")) {
            byte[] b = new byte[1 << 16];
            for (int n; (n = in.read(b)) > 0; ) {
                read.update(b, 0, n);
            }
        }
        assertThat(read.digest()).isEqualTo(written.digest());
        assertThat(hiddenTempFiles()).isEmpty();
    }

    @Test
    void abandonedWriteLeavesNoVisibleFileAndAbortRemovesTemp() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        try (ObjectWriter w = repo.create("backup-2", -1, Map.of())) {
            w.write("partial".getBytes(StandardCharsets.UTF_8));
            // no commit: close() aborts, as when the pipeline throws
        }
        assertThat(repo.stat("backup-2")).isEmpty();
        assertThat(hiddenTempFiles()).isEmpty();
        assertThatThrownBy(() -> repo.open("backup-2")).isInstanceOf(FileNotFoundException.class).hasMessageContaining("backup-2");
    }

    @Test
    void crashedWriterTempFileIsNeverListed() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        // What a process killed between write and rename leaves behind.
        Files.writeString(dir.resolve(".tmp-backup-3-1234"), "half a backup");
        assertThat(repo.list()).isEmpty();
        assertThat(repo.exists("backup-3")).isFalse();
    }

    @Test
    void listingStatusesAndOrder() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        repo.put("backup-20240102000000000000", new byte[10], Map.of(BackupId.FORMAT_METADATA, "1"));
        repo.put("backup-20240102000000000000.manifest", new byte[5], Map.of());
        repo.put("backup-20240103000000000000", new byte[20], Map.of(BackupId.FORMAT_METADATA, "1"));
        repo.put("20240101000000000000", new byte[30], Map.of());
        repo.put("locks/lock-abc", new byte[1], Map.of());
        setMtime("backup-20240102000000000000", "2024-01-02T00:00:00Z");
        setMtime("backup-20240103000000000000", "2024-01-03T00:00:00Z");
        setMtime("20240101000000000000", "2024-01-01T00:00:00Z");
        List<BackupEntry> list = repo.list();
        assertThat(list).extracting(BackupEntry::id)
                .containsExactly("20240101000000000000", "backup-20240102000000000000", "backup-20240103000000000000");
        assertThat(list).extracting(BackupEntry::status).containsExactly(
                BackupEntry.Status.FOREIGN, BackupEntry.Status.COMPLETE, BackupEntry.Status.UNFINISHED);
        assertThat(list).extracting(BackupEntry::size).containsExactly(30L, 10L, 20L);
    }

    @Test
    void deleteRemovesDataManifestAndSidecar() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        repo.put("backup-20240101000000000000", new byte[10], Map.of(BackupId.FORMAT_METADATA, "1"));
        repo.put("backup-20240101000000000000.manifest", new byte[5], Map.of());
        repo.delete("backup-20240101000000000000");
        assertThat(repo.list()).isEmpty();
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.toList()).isEmpty();
        }
        assertThatThrownBy(() -> repo.delete("backup-20240101000000000000"))
                .isInstanceOf(BackupNotFoundException.class).hasMessage("backup-id backup-20240101000000000000 does not exist");
    }

    @Test
    void putIfAbsentIsExclusive() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        assertThat(repo.putIfAbsent("locks/l1", "a".getBytes(StandardCharsets.UTF_8), Map.of())).isTrue();
        assertThat(repo.putIfAbsent("locks/l1", "b".getBytes(StandardCharsets.UTF_8), Map.of())).isFalse();
        try (InputStream in = repo.open("locks/l1")) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("a");
        }
        assertThat(hiddenTempFiles()).isEmpty();
    }

    @Test
    void aRefusedExclusiveCreateLeavesTheExistingMetadata() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        assertThat(repo.putIfAbsent("x", "a".getBytes(StandardCharsets.UTF_8), Map.of("k", "first"))).isTrue();
        assertThat(repo.putIfAbsent("x", "b".getBytes(StandardCharsets.UTF_8), Map.of("k", "second"))).isFalse();
        assertThat(repo.stat("x").orElseThrow().metadata()).containsEntry("k", "first");
        assertThat(hiddenTempFiles()).isEmpty();
    }

    @Test
    void keysCannotEscapeTheRepository() {
        LocalRepository repo = new LocalRepository(dir);
        assertThatThrownBy(() -> repo.stat("../x")).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> repo.create("/etc/passwd", 1, Map.of())).isInstanceOf(IOException.class);
        assertThat(repo.exists("../../etc/passwd")).isFalse();
    }

    @Test
    void checkAccessNamesTheDirectory() {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> new LocalRepository(missing).checkAccess())
                .isInstanceOf(RepositoryAccessException.class).hasMessage("repository directory " + missing + " does not exist");
        assertThat(new LocalRepository(missing).canUseBucket()).isFalse();
        assertThat(new LocalRepository(dir).canUseBucket()).isTrue();
    }

    private void setMtime(String key, String time) throws IOException {
        Files.setLastModifiedTime(dir.resolve(key), FileTime.from(Instant.parse(time)));
    }

    private List<Path> visibleFiles() throws IOException {
        List<Path> r = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> !p.getFileName().toString().startsWith(".")).forEach(r::add);
        }
        return r;
    }

    private List<Path> hiddenTempFiles() throws IOException {
        List<Path> r = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).forEach(r::add);
        }
        return r;
    }
}
