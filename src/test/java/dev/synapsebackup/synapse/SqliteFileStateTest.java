package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteFileStateTest {
    @TempDir
    Path tmp;

    @Test
    void recordsTheDatabaseAndItsNonEmptyCompanionsAndRoundTripsThroughTheManifest() throws Exception {
        Path db = tmp.resolve("homeserver.db");
        Files.write(db, new byte[4096]);
        Files.write(Path.of(db + "-wal"), new byte[0]);
        Instant old = Instant.parse("2025-01-01T00:00:00.123456789Z");
        Files.setLastModifiedTime(db, FileTime.from(old));

        SqliteFileState s = SqliteFileState.read(db, Instant.now());
        assertThat(s.files()).extracting(SqliteFileState.FileState::suffix).containsExactly("", "-wal");
        SqliteFileState.FileState main = s.files().get(0);
        assertThat(main.size()).isEqualTo(4096);
        assertThat(main.mtimeNanos()).isEqualTo(1735689600_123456789L);
        assertThat(main.ctimeNanos()).isPositive();
        assertThat(s.files().get(1).mtimeNanos()).as("empty -wal: no times").isZero();
        assertThat(s.files().get(1).ctimeNanos()).isZero();
        assertThat(SqliteFileState.fromManifest(s.toManifest())).isEqualTo(s);
        assertThat(SqliteFileState.fromManifest(null)).isNull();
        assertThat(SqliteFileState.fromManifest(java.util.Map.of("files", "nonsense"))).isNull();

        // just written (ctime now): not settled; read again later it would be
        assertThat(s.settled()).isFalse();
        assertThat(new SqliteFileState(Instant.now().plusSeconds(3), s.files()).settled()).isTrue();
        assertThat(s.changedSince(Instant.now().minusSeconds(60))).isTrue();
        assertThat(s.changedSince(Instant.now().plusSeconds(60))).isFalse();

        // unchanged only for a later reading of the same, settled files
        SqliteFileState settledEarlier = new SqliteFileState(Instant.now().plusSeconds(3), s.files());
        assertThat(new SqliteFileState(Instant.now().plusSeconds(10), s.files()).unchangedSince(settledEarlier)).isTrue();
        assertThat(new SqliteFileState(Instant.now().plusSeconds(1), s.files()).unchangedSince(settledEarlier))
                .as("a clock that went back").isFalse();
        assertThat(new SqliteFileState(Instant.now().plusSeconds(10), s.files()).unchangedSince(s)).as("racy").isFalse();

        // a symlinked database is followed: the link's own state would never change
        Path link = tmp.resolve("link.db");
        java.nio.file.Files.createSymbolicLink(link, db);
        assertThat(SqliteFileState.read(link, Instant.now()).files()).isEqualTo(SqliteFileState.read(db, Instant.now()).files());

        // a write to the -wal alone is a different state
        Files.write(Path.of(db + "-wal"), new byte[32]);
        SqliteFileState after = SqliteFileState.read(db, Instant.now());
        assertThat(after.sameFiles(s)).isFalse();
        assertThat(SqliteFileState.read(db, Instant.now()).sameFiles(after)).isTrue();
        // ... and so is one to the database file, even with its mtime put back
        Files.write(db, new byte[4096]);
        Files.setLastModifiedTime(db, FileTime.from(old));
        assertThat(SqliteFileState.read(db, Instant.now()).sameFiles(after)).isFalse();
    }
}
