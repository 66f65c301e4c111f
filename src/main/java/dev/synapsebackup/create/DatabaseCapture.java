package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.PgTools;
import dev.synapsebackup.synapse.PostgresDump;
import dev.synapsebackup.synapse.SqliteSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The database part of a backup, in three steps: {@link #start} (a SQLite snapshot begins on its
 * own thread, beside parent choice), {@link #prepare} (before any upload, so that a broken
 * database fails the run first: the snapshot is awaited and checked, or reused from the parent;
 * PostgreSQL's connection is probed), and {@link #archive} (into the data object, or a reference
 * to the parent's). Its outcome is a {@link DatabaseRecord} for the manifest.
 */
final class DatabaseCapture implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseCapture.class);

    private final DatabaseConfig config;
    private final Path temp;
    private final SqliteCapture sqlite;
    private PostgresDump pgDump;
    private DatabaseRecord record = DatabaseRecord.none();
    private String outcome;
    private Path snapshot;
    private ManifestFile reused;

    private DatabaseCapture(DatabaseConfig config, Path temp, SqliteCapture sqlite) {
        this.config = config;
        this.temp = temp;
        this.sqlite = sqlite;
    }

    /**
     * Starts capturing the database {@code config} names (a SQLite snapshot starts at once).
     *
     * @param temp         the run's work directory, where the snapshot goes
     * @param newestBackup when the repository's newest complete backup was made, or null
     */
    static DatabaseCapture start(DatabaseConfig config, Path temp, Instant newestBackup) {
        SqliteCapture sqlite = config instanceof DatabaseConfig.Sqlite s
                ? new SqliteCapture(s.path().toAbsolutePath().normalize(), temp.resolve("homeserver.db"), newestBackup)
                : null;
        return new DatabaseCapture(config, temp, sqlite);
    }

    /** The live SQLite database file, or null for another engine or none. */
    Path live() {
        return sqlite == null ? null : sqlite.live;
    }

    /** The tar entry name of the live SQLite database, or null. */
    String liveEntry() {
        return sqlite == null ? null : Manifest.entryName(sqlite.live);
    }

    /**
     * Awaits and checks the SQLite snapshot, or reuses the parent's; probes PostgreSQL's
     * connection, credentials and client version. Adds what the archive will hold to {@code estimate}.
     *
     * @param parent the parent of an incremental backup, or null
     * @throws SynapseBackupException the SQLite database fails {@code PRAGMA quick_check}
     */
    void prepare(Parent parent, Progress progress, SizeEstimate estimate) throws IOException {
        if (sqlite != null) {
            prepareSqlite(parent, progress, estimate);
        } else if (config instanceof DatabaseConfig.Postgres pg) {
            pgDump = new PostgresDump(PgTools.system(), PostgresDump.DEFAULT_CHUNK_SIZE, temp);
            pgDump.probe(pg);
            outcome = "archived";
        }
    }

    private void prepareSqlite(Parent parent, Progress progress, SizeEstimate estimate) throws IOException {
        Path live = sqlite.live;
        ManifestFile parentDb = parent == null ? null : parent.database();
        DatabaseRecord.Sqlite parentRecord = parent == null ? null : parent.sqliteRecord();
        sqlite.parent(parentDb == null ? Optional.empty() : Optional.of(new SqliteCapture.ParentDatabase(
                parent.holding(parentDb), parentRecord == null ? null : parentRecord.source())));
        progress.start("snapshot of " + live, -1);
        SqliteSnapshot.Result snap = sqlite.await();
        progress.finish();
        if (sqlite.unchanged()) {
            // Not a byte written to the database's files since the parent's snapshot began.
            reused = parent.holding(parentDb);
        } else {
            snapshot = sqlite.file();
            copyOwnership(live, snapshot);
            // An idle server's snapshot is byte-identical to the parent's: refer to those bytes.
            reused = parentDb == null ? null : sameSnapshot(parentDb, parent, snapshot, sqlite.sha256());
            if (snap == null && reused == null) {
                snap = SqliteSnapshot.inspect(snapshot); // same bytes, but another owner or mode
            }
        }
        String quickCheck = snap != null ? snap.quickCheck() : parentRecord == null ? null : parentRecord.quickCheck();
        if (!"ok".equals(quickCheck)) {
            throw new SynapseBackupException("Backup failed: the SQLite database " + live
                    + " fails PRAGMA quick_check: " + quickCheck);
        }
        record = DatabaseRecord.Sqlite.of(live.toString(), quickCheck,
                snap != null ? snap.schemaVersion() : parentRecord == null ? null : parentRecord.schemaVersion(),
                sqlite.state());
        if (sqlite.unchanged()) {
            LOG.info("the database files are unchanged since the snapshot in {}: not copied again", reused.backup());
            outcome = "unchanged";
            estimate.addReused();
        } else if (reused != null) {
            LOG.info("the database snapshot is identical to the one of {}: not archived again", reused.backup());
            outcome = "identical";
            estimate.addReused();
        } else {
            outcome = "archived";
            estimate.add(snapshot);
        }
    }

    /**
     * How the database was captured (after {@link #prepare}): {@code archived}, {@code identical},
     * {@code unchanged}, or null for none ({@link CreateResult#database()}).
     */
    String outcome() {
        return outcome;
    }

    /**
     * Writes the database into {@code archive}: the snapshot, a reference to the parent's, or
     * {@code pg_dump}'s output as consecutive chunk entries (FORMAT.md §6). A failing dump throws,
     * which aborts the upload.
     *
     * @param created the backup's time, the chunks' mtime
     */
    void archive(ArchivePipeline archive, Instant created) throws IOException {
        if (reused != null) {
            archive.reuse(reused);
        } else if (snapshot != null) {
            archive.add(snapshot, Manifest.entryName(sqlite.live));
        } else if (pgDump != null) {
            DatabaseConfig.Postgres pg = (DatabaseConfig.Postgres) config;
            LOG.info("dumping PostgreSQL database {} with pg_dump", pg.dbname());
            PostgresDump.Result r = pgDump.dump(pg, (name, in, size) -> archive.addStream(name, in, size, 0600, created));
            record = DatabaseRecord.Postgres.of(r);
        }
    }

    /** The manifest's database record (after {@link #archive}). */
    DatabaseRecord record() {
        return record;
    }

    /** Waits for the snapshot thread, which writes into the work directory. */
    @Override
    public void close() {
        if (sqlite != null) {
            sqlite.join();
        }
    }

    /**
     * The parent's record of the database if {@code snapshot} has the same size, mode, owner and
     * SHA-256, else null. Hashing the snapshot costs a fraction of encrypting and uploading it, and
     * runs beside other work ({@link SqliteCapture}); PostgreSQL dumps are never identical (they
     * carry their own timestamp), so only SQLite snapshots are compared.
     */
    private static ManifestFile sameSnapshot(ManifestFile previous, Parent parent, Path snapshot, String sha256)
            throws IOException {
        Map<String, Object> a = Files.readAttributes(snapshot, "unix:size,mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
        if ((Long) a.get("size") != previous.size() || ((Integer) a.get("mode") & 07777) != previous.mode()
                || (Integer) a.get("uid") != previous.uid() || (Integer) a.get("gid") != previous.gid()
                || !previous.sha256().equals(sha256)) {
            return null;
        }
        return parent.holding(previous);
    }

    private static void copyOwnership(Path from, Path to) {
        try {
            PosixFileAttributes a = Files.readAttributes(from, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            PosixFileAttributeView v = Files.getFileAttributeView(to, PosixFileAttributeView.class);
            v.setPermissions(a.permissions());
            try {
                v.setOwner(a.owner());
                v.setGroup(a.group());
            } catch (IOException notRoot) {
                // Only root can give files away; the snapshot keeps our ownership then.
            }
        } catch (IOException e) {
            LOG.debug("cannot copy ownership of {} to the snapshot: {}", from, e.toString());
        }
    }
}
