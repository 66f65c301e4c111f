package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.SynapseBackupException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteSnapshotTest {
    @TempDir
    Path tmp;

    @Test
    void snapshotOfLiveWalDatabaseHoldsEveryCommitBeforeItStarted() throws Exception {
        Path live = tmp.resolve("homeserver.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + live); Statement st = c.createStatement()) {
            st.execute("PRAGMA journal_mode=WAL");
            st.execute("CREATE TABLE schema_version(Lock CHAR(1) NOT NULL DEFAULT 'X' UNIQUE,"
                    + " version INTEGER NOT NULL, upgraded BOOL NOT NULL)");
            st.execute("INSERT INTO schema_version(version, upgraded) VALUES (88, 1)");
            st.execute("CREATE TABLE a(id INTEGER PRIMARY KEY, payload BLOB)");
            st.execute("CREATE TABLE b(id INTEGER PRIMARY KEY, a_id INTEGER NOT NULL)");
        }
        AtomicLong committed = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        CountDownLatch warm = new CountDownLatch(1);
        Thread writer = new Thread(() -> {
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + live)) {
                try (Statement st = c.createStatement()) {
                    st.execute("PRAGMA wal_autocheckpoint=0"); // keep every commit in the WAL
                    st.execute("PRAGMA busy_timeout=10000");
                }
                c.setAutoCommit(false);
                byte[] payload = new byte[3000];
                try (PreparedStatement insA = c.prepareStatement("INSERT INTO a(id, payload) VALUES (?, ?)");
                        PreparedStatement insB = c.prepareStatement("INSERT INTO b(id, a_id) VALUES (?, ?)")) {
                    for (long i = 1; !stop.get(); i++) {
                        payload[(int) (i % payload.length)]++;
                        insA.setLong(1, i);
                        insA.setBytes(2, payload);
                        insA.executeUpdate();
                        insB.setLong(1, i);
                        insB.setLong(2, i);
                        insB.executeUpdate();
                        c.commit();
                        committed.set(i);
                        if (i == 2000) {
                            warm.countDown();
                        }
                    }
                }
            } catch (Throwable t) {
                writerError.set(t);
                warm.countDown();
            }
        }, "sqlite-writer");
        writer.start();
        try {
            assertThat(warm.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(writerError.get()).isNull();
            assertThat(Files.size(Path.of(live + "-wal"))).as("uncheckpointed WAL").isGreaterThan(1_000_000);

            long before = committed.get();
            SqliteSnapshot.Result r = SqliteSnapshot.snapshot(live, tmp.resolve("snap.db"));
            long afterStart = committed.get();

            assertThat(r.quickCheck()).isEqualTo("ok");
            assertThat(r.ok()).isTrue();
            assertThat(r.schemaVersion()).isEqualTo(88);
            assertThat(r.size()).isEqualTo(Files.size(r.file()));
            assertThat(Path.of(r.file() + "-wal")).doesNotExist();
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + r.file());
                    Statement st = c.createStatement()) {
                try (ResultSet rs = st.executeQuery("PRAGMA journal_mode")) {
                    rs.next();
                    assertThat(rs.getString(1)).isEqualTo("delete");
                }
                try (ResultSet rs = st.executeQuery(
                        "SELECT count(*), min(id), max(id), (SELECT count(*) FROM b), (SELECT max(a_id) FROM b) FROM a")) {
                    rs.next();
                    long count = rs.getLong(1);
                    assertThat(count).isGreaterThanOrEqualTo(before).isLessThanOrEqualTo(afterStart + 1);
                    assertThat(rs.getLong(2)).isEqualTo(1);
                    assertThat(rs.getLong(3)).as("a consistent prefix").isEqualTo(count);
                    assertThat(rs.getLong(4)).as("both tables of each transaction").isEqualTo(count);
                    assertThat(rs.getLong(5)).isEqualTo(count);
                }
            }
        } finally {
            stop.set(true);
            writer.join(30_000);
        }
        assertThat(writerError.get()).isNull();
        // The live database was not disturbed and the writer could keep going.
        assertThat(committed.get()).isGreaterThan(2000);
    }

    @Test
    void databaseWithoutSchemaVersionTable() throws Exception {
        Path live = tmp.resolve("plain.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + live); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(x)");
            st.execute("INSERT INTO t VALUES (1)");
        }
        SqliteSnapshot.Result r = SqliteSnapshot.snapshot(live, tmp.resolve("out.db"));
        assertThat(r.quickCheck()).isEqualTo("ok");
        assertThat(r.schemaVersion()).isNull();
        assertThat(r.size()).isPositive();
    }

    @Test
    void existingTargetIsReplaced() throws Exception {
        Path live = tmp.resolve("plain.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + live); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE t(x)");
        }
        Path target = tmp.resolve("out.db");
        Files.writeString(target, "old junk that is not a database at all");
        assertThat(SqliteSnapshot.snapshot(live, target).ok()).isTrue();
    }

    @Test
    void missingDatabaseIsNamed() {
        Path missing = tmp.resolve("nope.db");
        assertThatThrownBy(() -> SqliteSnapshot.snapshot(missing, tmp.resolve("out.db")))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void nonSqliteFileIsNamed() throws Exception {
        Path bogus = tmp.resolve("homeserver.db");
        Files.write(bogus, "this is not a database, just some text\n".repeat(100).getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> SqliteSnapshot.snapshot(bogus, tmp.resolve("out.db")))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining(bogus.toString())
                .hasMessageContaining("not an SQLite database");
    }

    @Test
    void corruptDatabaseWithValidHeaderFails() throws Exception {
        Path bogus = tmp.resolve("corrupt.db");
        byte[] junk = new byte[8192];
        new java.util.Random(1).nextBytes(junk);
        System.arraycopy("SQLite format 3\0".getBytes(StandardCharsets.US_ASCII), 0, junk, 0, 16);
        Files.write(bogus, junk);
        assertThatThrownBy(() -> SqliteSnapshot.snapshot(bogus, tmp.resolve("out.db")))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining(bogus.toString());
    }
}
