package dev.synapsebackup.synapse;

import dev.synapsebackup.SynapseBackupException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteConnection;

/**
 * A consistent copy of a live SQLite database, made with SQLite's online backup API.
 *
 * <p>Synapse runs SQLite in WAL mode, so committed transactions may live only in the
 * {@code -wal} file; copying {@code homeserver.db} alone loses them, and copying both while a
 * checkpoint runs gives a torn copy. The backup API reads the database through SQLite itself,
 * inside one read transaction, so the copy holds exactly the commits made before it started.
 * It copies every page in one step: stepping in slices would restart each time Synapse writes,
 * and in WAL mode a reader does not block writers, so one step costs Synapse nothing.
 *
 * <p>The live database is opened read-only. The snapshot is then switched to
 * {@code journal_mode=DELETE}, so that it is one self-contained file, and checked.
 */
public final class SqliteSnapshot {
    private static final byte[] MAGIC = "SQLite format 3\0".getBytes(StandardCharsets.US_ASCII);
    private static final int BUSY_SLEEP_MILLIS = 100;
    private static final int BUSY_RETRIES = 300; // 30 s, e.g. while another process recovers the WAL

    private SqliteSnapshot() {
    }

    /**
     * The outcome of a snapshot.
     *
     * @param file the snapshot file
     * @param quickCheck result of {@code PRAGMA quick_check} on the snapshot ({@code "ok"} when sound)
     * @param schemaVersion Synapse's schema version ({@code schema_version.version}), or
     *     {@code null} if the database has no such table
     * @param size the snapshot's size in bytes
     */
    public record Result(Path file, String quickCheck, Integer schemaVersion, long size) {
        /** Whether {@code quick_check} found the snapshot sound. */
        public boolean ok() {
            return "ok".equals(quickCheck);
        }
    }

    /**
     * Copies {@code liveDb} to {@code targetFile} (replaced if it exists) with the online backup
     * API, while other connections or processes may keep writing to it.
     *
     * @throws SynapseBackupException the database is missing, is not an SQLite database, or the
     *     backup fails
     */
    public static Result snapshot(Path liveDb, Path targetFile) {
        Path target = targetFile.toAbsolutePath();
        backup(liveDb.toAbsolutePath(), target, () -> { });
        return inspect(target, true);
    }

    /**
     * The first half of {@link #snapshot}: the consistent copy, made self-contained
     * ({@code journal_mode=DELETE}) but not yet checked; {@link #inspect(Path)} does the rest. For
     * a caller that can tell from the copy's hash that an earlier, identical copy was checked.
     */
    public static Path copy(Path liveDb, Path targetFile) {
        return copy(liveDb, targetFile, () -> { });
    }

    /**
     * As {@link #copy(Path, Path)}, running {@code opened} once the live database is open (SQLite
     * may just have created its {@code -wal} and {@code -shm}) and before the copy begins.
     */
    public static Path copy(Path liveDb, Path targetFile, Runnable opened) {
        Path source = liveDb.toAbsolutePath();
        Path target = targetFile.toAbsolutePath();
        backup(source, target, opened);
        try (Connection c = connect(target, null);
                Statement st = c.createStatement()) {
            makeSelfContained(st, target);
        } catch (SQLException e) {
            throw new SynapseBackupException("cannot check SQLite snapshot " + target + ": " + e.getMessage(), e);
        }
        return target;
    }

    /** The second half of {@link #snapshot}: {@code quick_check} and Synapse's schema version of a copy. */
    public static Result inspect(Path snapshotFile) {
        return inspect(snapshotFile.toAbsolutePath(), false);
    }

    /**
     * Opens an SQLite connection. The run's work directory is made first: it sets where
     * sqlite-jdbc extracts its native library when it first loads it, so that a killed run leaves
     * no copy in the system temp directory (the next run removes the work directory).
     */
    static Connection connect(Path file, java.util.Properties properties) throws SQLException {
        dev.synapsebackup.io.WorkDir.get();
        return properties == null ? DriverManager.getConnection("jdbc:sqlite:" + file)
                : DriverManager.getConnection("jdbc:sqlite:" + file, properties);
    }

    /** The online backup of {@code source} into {@code target} (replaced if it exists). */
    private static void backup(Path source, Path target, Runnable opened) {
        checkIsSqlite(source);
        try {
            for (String suffix : new String[] {"", "-wal", "-shm", "-journal"}) {
                Files.deleteIfExists(Path.of(target + suffix));
            }
        } catch (IOException e) {
            throw new SynapseBackupException("cannot replace snapshot file " + target + ": " + e.getMessage(), e);
        }
        SQLiteConfig config = new SQLiteConfig();
        config.setReadOnly(true);
        config.setBusyTimeout(BUSY_SLEEP_MILLIS * BUSY_RETRIES);
        try (Connection c = connect(source, config.toProperties())) {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM sqlite_master")) {
                rs.next(); // fails with SQLITE_NOTADB on a file that only looks like a database
            }
            opened.run();
            int rc = ((SQLiteConnection) c).getDatabase().backup("main", target.toString(), null,
                    BUSY_SLEEP_MILLIS, BUSY_RETRIES, -1);
            if (rc != 0) {
                throw new SynapseBackupException("online backup of SQLite database " + source + " to " + target
                        + " failed (SQLite result code " + rc + ")");
            }
        } catch (SQLException e) {
            throw new SynapseBackupException("cannot snapshot SQLite database " + source + ": " + e.getMessage(), e);
        }
    }

    /**
     * Checks an SQLite file that is not in use: {@code quick_check} and Synapse's schema version.
     * With {@code makeSelfContained}, first switches it to {@code journal_mode=DELETE}.
     */
    static Result inspect(Path file, boolean makeSelfContained) {
        String quickCheck;
        Integer version = null;
        try (Connection c = connect(file, null);
                Statement st = c.createStatement()) {
            if (makeSelfContained) {
                makeSelfContained(st, file);
            }
            StringBuilder check = new StringBuilder();
            try (ResultSet rs = st.executeQuery("PRAGMA quick_check")) {
                while (rs.next()) {
                    if (check.length() > 0) {
                        check.append('\n');
                    }
                    check.append(rs.getString(1));
                }
            }
            quickCheck = check.toString();
            boolean hasTable;
            try (ResultSet rs = st.executeQuery(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")) {
                hasTable = rs.next();
            }
            if (hasTable) {
                try (ResultSet rs = st.executeQuery("SELECT version FROM schema_version")) {
                    if (rs.next()) {
                        version = rs.getInt(1);
                        if (rs.wasNull()) {
                            version = null;
                        }
                    }
                }
            }
        } catch (SQLException e) {
            throw new SynapseBackupException("cannot check SQLite snapshot " + file + ": " + e.getMessage(), e);
        }
        try {
            // Measured after the connection is closed, once the journal is gone.
            return new Result(file, quickCheck, version, Files.size(file));
        } catch (IOException e) {
            throw new SynapseBackupException("cannot read SQLite snapshot " + file + ": " + e.getMessage(), e);
        }
    }

    private static void makeSelfContained(Statement st, Path file) throws SQLException {
        try (ResultSet rs = st.executeQuery("PRAGMA journal_mode=DELETE")) {
            rs.next();
            if (!"delete".equalsIgnoreCase(rs.getString(1))) {
                throw new SynapseBackupException("cannot switch snapshot " + file
                        + " to journal_mode=DELETE (it stays " + rs.getString(1) + ")");
            }
        }
    }

    private static void checkIsSqlite(Path db) {
        if (!Files.isRegularFile(db)) {
            throw new SynapseBackupException("SQLite database " + db + " does not exist or is not a regular file");
        }
        byte[] head = new byte[MAGIC.length];
        int n;
        try (InputStream in = Files.newInputStream(db)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw new SynapseBackupException("cannot read SQLite database " + db + ": " + e.getMessage(), e);
        }
        if (n != MAGIC.length || !Arrays.equals(head, MAGIC)) {
            throw new SynapseBackupException(db + " is not an SQLite database");
        }
    }
}
