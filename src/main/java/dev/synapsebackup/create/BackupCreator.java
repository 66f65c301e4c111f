package dev.synapsebackup.create;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.Progress;
import dev.synapsebackup.Shutdown;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.archive.FileRecord;
import dev.synapsebackup.archive.TarWriter;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.EncryptionKey;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.io.MeteredOutputStream;
import dev.synapsebackup.io.PipelinedOutputStream;
import dev.synapsebackup.io.ReadAheadIterator;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.ParentDirectories;
import dev.synapsebackup.manifest.PathOrder;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryLock;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.MediaEntry;
import dev.synapsebackup.synapse.PgTools;
import dev.synapsebackup.synapse.PostgresDump;
import dev.synapsebackup.synapse.SqliteFileState;
import dev.synapsebackup.synapse.SqliteSnapshot;
import dev.synapsebackup.synapse.SynapseSources;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes one backup: tar of keys, configuration, database snapshot and media, streamed through
 * OpenPGP encryption into the repository, then the encrypted manifest as the commit marker.
 * Nothing is held in memory beyond fixed-size buffers; the manifest is streamed to a temporary
 * file as files are archived.
 *
 * <p>An incremental backup archives keys and configuration in full, the database unless its
 * snapshot is identical to the parent's, and only the media files that are new or changed (path,
 * size or mtime) since its parent, with the directories {@link MediaDirectories} picks; its
 * manifest still lists every file, each with the id of the backup whose data object holds its
 * bytes. Changes are found by walking the media store in the same sorted order as the parent's
 * manifest lists it, so the comparison is a merge of two sorted streams: no re-reading of
 * unchanged media, and no memory that grows with the store.
 */
public final class BackupCreator {
    private static final Logger LOG = LoggerFactory.getLogger(BackupCreator.class);
    /** Per-entry tar overhead used for the size estimate (header, PAX header, padding). */
    private static final long ENTRY_OVERHEAD = 2048;

    private final Repository repo;
    private final HomeserverConfig homeserver;
    private final CreateOptions options;
    private final Clock clock;
    private final List<ManifestSummary.Skipped> skipped = new ArrayList<>();
    private long sumBytes;
    private long archivedBytes;
    private long archivedFiles;

    public BackupCreator(Repository repo, HomeserverConfig homeserver, CreateOptions options, Clock clock) {
        this.repo = repo;
        this.homeserver = homeserver;
        this.options = options;
        this.clock = clock;
    }

    /**
     * The parent an incremental backup builds on.
     *
     * @param database its record of the SQLite database, or null
     */
    private record Parent(String id, Path manifestFile, ManifestSummary summary, ManifestFile database) {
    }

    public CreateResult create() throws IOException {
        long startNanos = System.nanoTime();
        SynapseSources sources = SynapseSources.of(homeserver, options.includeRemoteMedia());
        Progress progress = options.progress();
        Secret passphrase = options.passphrase();

        // In the run's work directory: removed by the next run if this one is killed.
        Path temp = Files.createTempDirectory(options.tempDir() == null ? WorkDir.get()
                : WorkDir.under(options.tempDir()), "create-");
        SqliteCapture capture = null;
        // One writer at a time: prune or delete must not remove the parent this backup builds on.
        try (RepositoryLock lock = RepositoryLock.acquire(repo, "create", clock, RepositoryLock.DEFAULT_STALE_AFTER)) {
            // Keys are slow to derive by design: on their own thread, while the parent is read. One
            // per object, each with its own salt (v4 SKESKs under one key would share a keystream).
            FutureTask<EncryptionKey[]> keyTask = new FutureTask<>(() -> new EncryptionKey[] {
                EncryptionKey.derive(passphrase), EncryptionKey.derive(passphrase)});
            startDaemon(keyTask, "synapse-backup-key");
            // Taken under the lock, so it stays true for this run: no other run adds or removes
            // backups meanwhile. Which objects exist is then known without a request per object.
            List<BackupEntry> entries = repo.listWithoutMetadata();
            Set<String> objects = new HashSet<>();
            entries.forEach(e -> objects.add(e.id()));
            DatabaseConfig db = sources.database();
            if (db instanceof DatabaseConfig.Sqlite sqlite) {
                // On its own thread: it takes about as long as reading the parent's manifest.
                capture = new SqliteCapture(absolute(sqlite.path()), temp.resolve("homeserver.db"),
                        newestComplete(entries).flatMap(e -> BackupId.timeOf(e.id())).orElse(null));
            }
            removeLeftovers();
            String id = newId(objects);
            Instant created = BackupId.timeOf(id).orElseThrow();
            Parent parent = chooseParent(created, temp, entries, objects,
                    capture == null ? null : Manifest.entryName(capture.live));
            String kind = parent == null ? "full" : "incremental";

            // Keys and configuration first: the smallest and most precious part of a backup.
            Set<Path> head = new LinkedHashSet<>();
            sources.signingKeys().forEach(p -> head.add(absolute(p)));
            sources.configFiles().forEach(p -> head.add(absolute(p)));
            Scan scan = new Scan();
            for (Path p : head) {
                addToScan(scan, p);
            }
            if (parent == null) {
                scanMedia(sources, scan);
            }

            // The database before any upload, so that a broken database fails the run first.
            DatabaseRecord dbRecord = DatabaseRecord.none();
            String dbOutcome = null;
            Path dbSnapshot = null;
            Path dbLive = null;
            ManifestFile dbReused = null;
            if (capture != null) {
                dbLive = capture.live;
                ManifestFile parentDb = parent == null ? null : parent.database();
                DatabaseRecord.Sqlite parentRecord = parent != null
                        && parent.summary().database() instanceof DatabaseRecord.Sqlite s ? s : null;
                capture.parent(parentDb == null ? Optional.empty() : Optional.of(new ParentDatabase(
                        withHolder(parentDb, parent), parentRecord == null ? null : parentRecord.source())));
                progress.start("snapshot of " + dbLive, -1);
                SqliteSnapshot.Result snap = capture.await();
                progress.finish();
                if (capture.unchanged()) {
                    // Not a byte written to the database's files since the parent's snapshot began.
                    dbReused = withHolder(parentDb, parent);
                } else {
                    dbSnapshot = capture.file();
                    copyOwnership(dbLive, dbSnapshot);
                    // An idle server's snapshot is byte-identical to the parent's: refer to those bytes.
                    dbReused = parentDb == null ? null : sameSnapshot(parentDb, parent, dbSnapshot, capture.sha256());
                    if (snap == null && dbReused == null) {
                        snap = SqliteSnapshot.inspect(dbSnapshot); // same bytes, but another owner or mode
                    }
                }
                String quickCheck = snap != null ? snap.quickCheck() : parentRecord == null ? null : parentRecord.quickCheck();
                if (!"ok".equals(quickCheck)) {
                    throw new SynapseBackupException("Backup failed: the SQLite database " + dbLive
                            + " fails PRAGMA quick_check: " + quickCheck);
                }
                dbRecord = DatabaseRecord.Sqlite.of(dbLive.toString(), quickCheck,
                        snap != null ? snap.schemaVersion() : parentRecord == null ? null : parentRecord.schemaVersion(),
                        capture.state());
                if (capture.unchanged()) {
                    LOG.info("the database files are unchanged since the snapshot in {}: not copied again", dbReused.backup());
                    dbOutcome = "unchanged";
                    scan.files++;
                } else if (dbReused != null) {
                    LOG.info("the database snapshot is identical to the one of {}: not archived again", dbReused.backup());
                    dbOutcome = "identical";
                    scan.files++;
                } else {
                    dbOutcome = "archived";
                    addToScan(scan, dbSnapshot);
                }
            }
            PostgresDump pgDump = null;
            if (db instanceof DatabaseConfig.Postgres pg) {
                pgDump = new PostgresDump(PgTools.system(), PostgresDump.DEFAULT_CHUNK_SIZE, temp);
                // Connection, credentials and client version are checked before anything is uploaded.
                pgDump.probe(pg);
                dbOutcome = "archived";
            }
            if (scan.entries == 0 && scan.files == 0) {
                throw new SynapseBackupException("Backup failed: no paths to back up");
            }
            // A full backup's size is known from the scan. An incremental one is not scanned first
            // (that would walk the media twice): its progress counts the bytes examined, unchanged
            // files included, against the parent's total. That total also bounds what the
            // repository is told to expect, so an S3 upload sizes its parts (and so its memory) no
            // larger than for a full backup of the same server.
            long expectedPlain = parent == null
                    ? scan.bytes + (scan.entries + 2) * ENTRY_OVERHEAD + scan.files * 300 + 10240
                    : Math.max(parent.summary().totalBytes(), scan.bytes) + scan.files * ENTRY_OVERHEAD + 10240;
            // OpenPGP adds a few bytes per 64 KiB partial packet, plus headers and the MDC.
            long expectedCipher = expectedPlain + expectedPlain / 8192 + 4096;

            Map<String, List<String>> roles = new LinkedHashMap<>(sources.roles());
            List<Path> roots = new ArrayList<>();
            roles.values().forEach(paths -> paths.forEach(p -> roots.add(Path.of(p))));
            if (dbLive != null) {
                roots.add(dbLive);
            }
            // Owner and mode of the directories above the roots, so that a restore can recreate them.
            ParentDirectories parents = ParentDirectories.of(roots);
            ManifestSummary header = new ManifestSummary(Manifest.FORMAT, id, created, ToolVersion.get(),
                    homeserver.serverName(), kind, parent == null ? null : parent.id(),
                    parent == null ? id : parent.summary().fullBackup(), roles, DatabaseRecord.none(), List.of(), 0, 0,
                    parents.records());

            Path manifestFile = temp.resolve("manifest.json");
            long stored;
            long fileCount;
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put(BackupId.FORMAT_METADATA, String.valueOf(Manifest.FORMAT));
            metadata.put(BackupId.KIND_METADATA, kind);
            if (parent != null) {
                metadata.put(BackupId.PARENT_METADATA, parent.id());
            }
            EncryptionKey[] keys = await(keyTask, "deriving the encryption keys");
            Thread abortOnExit;
            // set as soon as the cipher thread exists, so that any failure after that stops it
            AtomicReference<PipelinedOutputStream> pipeline = new AtomicReference<>();
            try (ObjectWriter writer = repo.create(id, expectedCipher, metadata)) {
                // Ctrl-C / SIGTERM: the shutdown hook aborts the upload so nothing is left behind.
                // Under the launcher, Shutdown interrupts this thread instead, which aborts here; a
                // second, concurrent abort would race with it (and with closing the repository).
                abortOnExit = Shutdown.installed() ? null : new Thread(() -> {
                    try {
                        writer.abort();
                    } catch (RuntimeException e) {
                        LOG.debug("abort on exit failed: {}", e.toString());
                    }
                }, "synapse-backup-abort");
                if (abortOnExit != null) {
                    Runtime.getRuntime().addShutdownHook(abortOnExit);
                }
                try {
                    progress.start("backup " + id + (parent == null ? "" : " (incremental)"), expectedPlain);
                    try (OutputStream manifestOut = new BufferedOutputStream(Files.newOutputStream(manifestFile), 1 << 16);
                         Manifest.Writer manifest = new Manifest.Writer(manifestOut, header)) {
                        // AES-CFB (serial by nature in OpenPGP) runs on its own thread; this one reads
                        // and hashes the files, frames the packets and computes the MDC.
                        OutputStream encrypted = OpenPgp.encrypt(writer, keys[0],
                                s -> {
                                    PipelinedOutputStream stage = new PipelinedOutputStream(s, 1 << 20, 4, "synapse-backup-encrypt");
                                    pipeline.set(stage);
                                    return stage;
                                });
                        MeteredOutputStream plain = new MeteredOutputStream(encrypted, progress::advance);
                        TarWriter tar = new TarWriter(plain);
                        for (Path p : head) {
                            parents.before(tar, Manifest.entryName(p));
                            add(tar, manifest, id, p, Manifest.entryName(p));
                        }
                        if (dbLive != null) {
                            parents.before(tar, Manifest.entryName(dbLive));
                        }
                        for (Path r : sources.mediaRoots()) {
                            parents.before(tar, Manifest.entryName(absolute(r)));
                        }
                        if (dbReused != null) {
                            manifest.file(dbReused);
                            sumBytes += dbReused.size();
                            progress.advance(dbReused.size());
                        } else if (dbSnapshot != null) {
                            add(tar, manifest, id, dbSnapshot, Manifest.entryName(dbLive));
                        } else if (pgDump != null) {
                            dbRecord = dumpPostgres(pgDump, (DatabaseConfig.Postgres) db, tar, manifest, id, created);
                        }
                        archiveMedia(sources, parent, tar, manifest, id);
                        manifest.finish(dbRecord, skipped);
                        manifestOut.flush();
                        fileCount = manifest.fileCount();
                        tar.addFile(manifestFile, Manifest.TAR_ENTRY);
                        tar.finish();
                        encrypted.close(); // finishes the OpenPGP message once the cipher thread has drained
                    }
                    progress.finish();
                    stored = writer.commit().size();
                } catch (IOException | RuntimeException e) {
                    if (pipeline.get() != null) {
                        pipeline.get().cancel(); // the encryption thread stops writing before the upload is aborted
                    }
                    throw e;
                } finally {
                    try {
                        if (abortOnExit != null) {
                            Runtime.getRuntime().removeShutdownHook(abortOnExit);
                        }
                    } catch (IllegalStateException shuttingDown) {
                        // the hook is running: the upload is being aborted
                    }
                }
            }

            // The manifest is the commit marker: written only once the data object is complete.
            boolean committed = false;
            try {
                lock.checkStillHeld();
                try (ObjectWriter mw = repo.create(BackupId.manifestKey(id), Files.size(manifestFile) + 4096, Map.of());
                     InputStream in = Files.newInputStream(manifestFile)) {
                    OutputStream enc = OpenPgp.encrypt(mw, keys[1]);
                    in.transferTo(enc);
                    enc.close();
                    mw.commit();
                    committed = true;
                }
            } finally {
                if (!committed) {
                    removeDataObjectWithoutManifest(id);
                }
            }
            return new CreateResult(id, kind, parent == null ? null : parent.id(), fileCount, sumBytes, archivedFiles,
                    archivedBytes, stored, dbOutcome, List.copyOf(skipped), Duration.ofNanos(System.nanoTime() - startNanos));
        } finally {
            if (capture != null) {
                capture.join(); // it writes into temp
            }
            WorkDir.deleteTemporary(temp);
        }
    }

    /** The parent's record of the database, naming the object that holds it, and the files' state then. */
    private record ParentDatabase(ManifestFile record, SqliteFileState state) {
    }

    /**
     * The SQLite snapshot and its SHA-256, made on a thread of their own: for a large database
     * they take as long as reading the parent's manifest. No snapshot is made when the database's
     * files are, by {@code stat}, exactly as when the parent's snapshot began
     * ({@link SqliteFileState}); and its {@code quick_check} is skipped when the snapshot is
     * byte-identical to the parent's, which passed it. The thread learns the parent's record from
     * {@link #parent}, and waits for it only when the files have not changed since the newest
     * backup was made: otherwise it starts copying at once.
     */
    private static final class SqliteCapture {
        final Path live;
        private final FutureTask<SqliteSnapshot.Result> task;
        private final Thread thread;
        private final CompletableFuture<Optional<ParentDatabase>> parent = new CompletableFuture<>();
        private volatile String sha256;
        private volatile Path file;
        private volatile SqliteFileState state;
        private volatile boolean unchanged;

        /** @param newestBackup when the newest complete backup was made, or null if there is none */
        SqliteCapture(Path live, Path target, Instant newestBackup) {
            this.live = live;
            this.task = new FutureTask<>(() -> {
                // Read before the snapshot begins: a write after this moment changes what a later run sees.
                SqliteFileState before = SqliteFileState.read(live, Instant.now());
                state = before;
                if (newestBackup != null && !before.changedSince(newestBackup.minus(SqliteFileState.SLACK))) {
                    Optional<ParentDatabase> p = parent.get();
                    SqliteFileState then = p.map(ParentDatabase::state).orElse(null);
                    if (before.unchangedSince(then)) {
                        state = then; // the bytes are those of that snapshot
                        unchanged = true;
                        return null;
                    }
                }
                // What the next run compares with: read once SQLite has opened the database (which
                // creates a missing -wal), before the copy reads it.
                Path copy = SqliteSnapshot.copy(live, target, () -> {
                    try {
                        state = SqliteFileState.read(live, Instant.now());
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read the attributes of " + live + ": " + e.getMessage(), e);
                    }
                });
                file = copy;
                // Hashed here only to compare with the parent's: archiving hashes it anyway.
                Optional<String> parentSha = parent.get().map(pd -> pd.record().sha256());
                if (parentSha.isPresent()) {
                    String sha = sha256Of(copy);
                    sha256 = sha;
                    if (parentSha.get().equals(sha)) {
                        return null; // identical to the parent's checked snapshot
                    }
                }
                return SqliteSnapshot.inspect(copy);
            });
            this.thread = startDaemon(task, "synapse-backup-snapshot");
        }

        /** The parent's database record and state, empty if none; call once the parent is known. */
        void parent(Optional<ParentDatabase> p) {
            parent.complete(p);
        }

        /** Whether no snapshot was made because the files are as at the parent's (after {@link #await}). */
        boolean unchanged() {
            return unchanged;
        }

        /** The state of the database's files that goes with the snapshot's bytes (after {@link #await}). */
        SqliteFileState state() {
            return state;
        }

        /** The snapshot file (after {@link #await}). */
        Path file() {
            return file;
        }

        /**
         * Waits for the snapshot; its failure is thrown here. Null when none was made, or when it
         * is byte-identical to the parent's (and so was not checked again).
         */
        SqliteSnapshot.Result await() throws IOException {
            return BackupCreator.await(task, "the database snapshot of " + live);
        }

        /** The snapshot's SHA-256 (after {@link #await}), null when there was no parent record to compare it with. */
        String sha256() {
            return sha256;
        }

        /** Waits for the thread to end, ignoring interrupts (the backup API cannot be stopped midway). */
        void join() {
            parent.complete(Optional.empty()); // a run that failed before it knew its parent
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        private static String sha256Of(Path file) throws IOException {
            MessageDigest sha = Sha256.newDigest();
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    sha.update(buf, 0, n);
                }
            }
            return Sha256.hex(sha.digest());
        }
    }

    /**
     * Streams {@code pg_dump}'s output into the archive as consecutive chunk entries (FORMAT.md §6);
     * a failing dump throws, which aborts the upload.
     */
    private DatabaseRecord dumpPostgres(PostgresDump dumper, DatabaseConfig.Postgres pg, TarWriter tar,
                                             Manifest.Writer manifest, String id, Instant created) throws IOException {
        LOG.info("dumping PostgreSQL database {} with pg_dump", pg.dbname());
        PostgresDump.Result r = dumper.dump(pg, (name, in, size) -> {
            FileRecord rec = tar.addStream(name, in, size, 0600, created);
            manifest.file(new ManifestFile(rec.path(), rec.size(), rec.mtime(), rec.mode(), rec.uid(), rec.gid(),
                    rec.sha256(), id));
            sumBytes += rec.size();
            archivedBytes += rec.size();
            archivedFiles++;
        });
        return DatabaseRecord.Postgres.of(r);
    }

    private void removeLeftovers() {
        try {
            int removed = repo.removeStaleUploads(Duration.ofDays(1));
            if (removed > 0) {
                LOG.info("removed {} leftover upload(s) of interrupted runs from {}", removed, repo.location());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot clean up leftover uploads in {}: {}", repo.location(), e.getMessage());
        }
    }

    /**
     * A run that fails (or is interrupted) after its data object was stored, before its manifest
     * was: leaves no data object (SPEC §3). Unless the manifest did arrive (only its answer was
     * lost), in which case the backup is complete and stays.
     */
    private void removeDataObjectWithoutManifest(String id) {
        boolean interrupted = Thread.interrupted(); // the S3 client starts no request on an interrupted thread
        try {
            if (repo.stat(BackupId.manifestKey(id)).isEmpty()) {
                repo.deleteObject(id);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot remove the data object {} of this failed run from {}: {} (prune removes it after a day)",
                    id, repo.location(), e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The parent for an incremental backup, or null for a full one: none exists yet, {@code --full},
     * {@code --new-passphrase}, the chain's full backup is older than {@code full-every}, or the
     * newest backup cannot serve (another server, a damaged manifest, a data object of its chain
     * missing).
     *
     * @throws IntegrityException the passphrase does not open the newest backup (without
     *         {@code --new-passphrase}): a nightly run with a wrong passphrase file must fail,
     *         not quietly start a second chain that the other passphrase cannot read
     */
    private Parent chooseParent(Instant now, Path temp, List<BackupEntry> entries, Set<String> existing,
            String parentDatabaseEntry) {
        BackupEntry newest = newestComplete(entries).orElse(null);
        if (newest == null) {
            return null;
        }
        if (options.newPassphrase()) {
            LOG.info("--new-passphrase: starting a new full chain; the passphrase of {} is not checked", newest.id());
            return null;
        }
        String why;
        try {
            Path manifestFile;
            try {
                manifestFile = BackupReader.fetchManifest(repo, newest.id(), options.passphrase(), temp);
            } catch (IntegrityException e) {
                if (String.valueOf(e.getMessage()).startsWith(OpenPgp.WRONG_PASSPHRASE)) {
                    throw new IntegrityException(passphraseMismatch(newest.id())
                            + "; to start a new full chain under this passphrase on purpose, run create --new-passphrase", e);
                }
                throw e;
            }
            if (options.forceFull()) {
                return null;
            }
            // One pass: the summary, the objects the chain's bytes are in, and the database's record.
            Set<String> objects = new TreeSet<>(Set.of(newest.id()));
            ManifestFile database = null;
            ManifestSummary s;
            try (Manifest.FileIterator files = Manifest.files(manifestFile)) {
                while (files.hasNext()) {
                    ManifestFile f = files.next();
                    objects.add(f.backup() == null ? newest.id() : f.backup());
                    if (database == null && f.path().equals(parentDatabaseEntry)) {
                        database = f;
                    }
                }
                s = files.summary();
            }
            Instant fullTime = BackupId.timeOf(s.fullBackup()).orElse(s.created());
            if (!homeserver.serverName().equals(s.serverName())) {
                why = "the newest backup " + newest.id() + " is of another server (" + s.serverName() + ")";
            } else if (!now.isBefore(fullTime.plus(options.fullEvery()))) {
                LOG.info("the last full backup {} is older than full-every ({}): making a full backup", s.fullBackup(),
                        options.fullEvery());
                return null;
            } else {
                String missing = null;
                for (String object : objects) {
                    if (!existing.contains(object)) {
                        missing = object;
                        break;
                    }
                }
                if (missing == null) {
                    return new Parent(newest.id(), manifestFile, s, database);
                }
                why = "data object " + missing + " of the newest backup's chain is missing";
            }
        } catch (IntegrityException e) {
            if (e.getMessage().startsWith(passphraseMismatch(newest.id()))) {
                throw e;
            }
            why = "the manifest of " + newest.id() + " cannot be read (" + e.getMessage() + ")";
        } catch (IOException | UncheckedIOException | SynapseBackupException e) {
            // Only what reading a manifest can meet; a bug (an NPE, say) must fail the run, not
            // quietly make a full backup.
            if (e instanceof SynapseBackupException sbe && sbe.exitCode() == SynapseBackupException.INTERRUPTED) {
                throw sbe;
            }
            why = "the manifest of " + newest.id() + " cannot be read (" + e.getMessage() + ")";
        }
        options.progress().warn(why + ": making a full backup");
        return null;
    }

    /** The message (SPEC §7) when the passphrase does not open the newest backup. */
    static String passphraseMismatch(String id) {
        return "passphrase does not open backup " + id + ", the newest in the repository";
    }

    /** The newest complete backup made by this tool (entries are in id order). */
    private static Optional<BackupEntry> newestComplete(List<BackupEntry> entries) {
        BackupEntry newest = null;
        for (BackupEntry e : entries) {
            if (e.status() == BackupEntry.Status.COMPLETE && BackupId.timeOf(e.id()).isPresent()) {
                newest = e;
            }
        }
        return Optional.ofNullable(newest);
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
        return withHolder(previous, parent);
    }

    /** The parent's record, naming the object that holds its bytes. */
    private static ManifestFile withHolder(ManifestFile previous, Parent parent) {
        return previous.backup() != null ? previous : new ManifestFile(previous.path(), previous.size(), previous.mtime(),
                previous.mode(), previous.uid(), previous.gid(), previous.sha256(), parent.id());
    }

    /** Adds to the size estimate of a full backup what the media walk will archive. */
    private static void scanMedia(SynapseSources sources, Scan scan) {
        for (Iterator<MediaEntry> it = sources.mediaIterator(); it.hasNext(); ) {
            MediaEntry m = it.next();
            scan.entries++;
            if (!m.isDirectory()) {
                scan.bytes += m.size();
                scan.files++;
            }
        }
    }

    private void archiveMedia(SynapseSources sources, Parent parent, TarWriter tar, Manifest.Writer manifest, String id)
            throws IOException {
        Instant fullStart = parent == null ? null
                : BackupId.timeOf(parent.summary().fullBackup()).orElse(parent.summary().created());
        MediaDirectories dirs = new MediaDirectories(tar, fullStart);
        // A media root may be a symbolic link (local_content on another disk). The walk follows
        // it, and so does its directory entry: the attributes of the directory it points to,
        // under the root's own name.
        Map<Path, Path> linkedRoots = new HashMap<>();
        for (Path r : sources.mediaRoots()) {
            Path a = absolute(r);
            if (Files.isSymbolicLink(a)) {
                linkedRoots.put(a, a.toRealPath());
            }
        }
        // The walk (a readdir and an lstat per entry) runs on its own thread while an
        // incremental's main thread is busy with the manifests. At most ~800 entries ahead: the
        // lstat that decides whether a file changed stays close to the moment it is decided.
        try (ParentCursor cursor = ParentCursor.open(parent, sources);
             ReadAheadIterator<MediaEntry> it = new ReadAheadIterator<>(sources.mediaIterator(), 128, 4,
                     "synapse-backup-walk")) {
            while (it.hasNext()) {
                MediaEntry m = it.next();
                Path p = absolute(m.path());
                String name = Manifest.entryName(p);
                if (m.isDirectory()) {
                    dirs.directory(linkedRoots.getOrDefault(p, p), name, m.ctime());
                    continue;
                }
                ManifestFile same = cursor.unchanged(name, m);
                dirs.file(name, same == null);
                if (same != null) {
                    manifest.file(same);
                    sumBytes += same.size();
                    options.progress().advance(same.size());
                } else {
                    add(tar, manifest, id, p, name);
                }
            }
        }
        dirs.finish();
    }

    /**
     * Walks the parent's manifest records under the current media roots in step with the media
     * walk; both are in {@link PathOrder}.
     */
    private static final class ParentCursor implements AutoCloseable {
        private final Manifest.FileIterator files;
        private final List<String> roots;
        private ManifestFile current;

        private ParentCursor(Manifest.FileIterator files, List<String> roots) {
            this.files = files;
            this.roots = roots;
            advance();
        }

        static ParentCursor open(Parent parent, SynapseSources sources) {
            List<String> roots = sources.mediaRoots().stream().map(r -> Manifest.entryName(absolute(r)) + "/").toList();
            return new ParentCursor(parent == null ? null : Manifest.files(parent.manifestFile()), roots);
        }

        private void advance() {
            current = null;
            while (files != null && files.hasNext()) {
                ManifestFile f = files.next();
                for (String root : roots) {
                    if (f.path().startsWith(root)) {
                        current = f;
                        return;
                    }
                }
            }
        }

        /**
         * The parent's record of this file if it is unchanged, else null. Unchanged: same size
         * and mtime (content), and same mode and owner, which a restore applies from the record
         * (a {@code chown -R} of the media store changes no mtime).
         */
        ManifestFile unchanged(String name, MediaEntry m) {
            while (current != null && PathOrder.compare(current.path(), name) < 0) {
                advance(); // in the parent, gone now
            }
            if (current == null || !current.path().equals(name)) {
                return null; // new
            }
            ManifestFile f = current;
            advance();
            Instant mtime = m.lastModified().toInstant().truncatedTo(ChronoUnit.MICROS);
            boolean same = f.size() == m.size() && f.mtime().equals(mtime)
                    && (m.mode() < 0 || m.mode() == f.mode())
                    && (m.uid() < 0 || m.uid() == f.uid())
                    && (m.gid() < 0 || m.gid() == f.gid());
            return same ? f : null;
        }

        @Override
        public void close() {
            if (files != null) {
                try {
                    files.close();
                } catch (IOException e) {
                    LOG.debug("closing the parent manifest: {}", e.toString());
                }
            }
        }
    }

    /** Archives one file; re-reads it once if it changed while being read, else skips it. */
    private void add(TarWriter tar, Manifest.Writer manifest, String id, Path file, String entry) throws IOException {
        TarWriter.AddResult r;
        try {
            r = tar.addFile(file, entry);
            if (r.changedWhileReading()) {
                LOG.info("{} changed while being read; reading it again", file);
                r = tar.addFile(file, entry);
                if (r.changedWhileReading()) {
                    skip(file, "changed while being read, twice");
                    return;
                }
            }
        } catch (NoSuchFileException e) {
            skip(file, "vanished while the backup ran");
            return;
        }
        FileRecord rec = r.record();
        manifest.file(new ManifestFile(rec.path(), rec.size(), rec.mtime(), rec.mode(), rec.uid(), rec.gid(), rec.sha256(), id));
        sumBytes += rec.size();
        archivedBytes += rec.size();
        archivedFiles++;
    }

    private void skip(Path file, String reason) {
        skipped.add(new ManifestSummary.Skipped(file.toString(), reason));
        options.progress().warn("skipped " + file + ": " + reason);
    }

    /** What the size estimate counts before the archive is written. */
    private static final class Scan {
        long bytes; // to archive
        long entries; // tar entries to write
        long files; // records in the manifest
    }

    private static void addToScan(Scan scan, Path p) {
        try {
            scan.bytes += Files.size(p);
            scan.entries++;
            scan.files++;
        } catch (IOException e) {
            // vanished: the archiving pass will notice and record it
        }
    }

    private String newId(Set<String> existing) {
        String id = BackupId.forTime(clock.instant());
        while (existing.contains(id)) {
            // Two runs in the same microsecond: take the next one.
            id = BackupId.forTime(BackupId.timeOf(id).orElseThrow().plusNanos(1000));
        }
        return id;
    }


    private static Path absolute(Path p) {
        return p.toAbsolutePath().normalize();
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

    private static Thread startDaemon(Runnable task, String name) {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The task's result; its failure is thrown here as it was thrown there. */
    private static <T> T await(FutureTask<T> task, String what) throws IOException {
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + what);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException(what + " failed: " + cause, cause);
        }
    }
}
