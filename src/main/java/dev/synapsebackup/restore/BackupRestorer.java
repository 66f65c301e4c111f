package dev.synapsebackup.restore;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.Shutdown;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.UnsafeEntryException;
import dev.synapsebackup.archive.FileRecord;
import dev.synapsebackup.archive.SafeExtractor;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestDirectory;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.ParentDirectories;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.PgTools;
import dev.synapsebackup.synapse.PostgresRestore;
import dev.synapsebackup.synapse.ServiceControl;
import dev.synapsebackup.synapse.SynapseSources;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a backup (SPEC §5). Nothing live is touched until the whole backup has been
 * downloaded, decrypted, its MDC checked and every file matched against the manifest, in staging
 * directories beside the live paths (so the swap is a rename on one filesystem). Only then is
 * Synapse stopped, each live path renamed aside and the staged one renamed into place, and
 * Synapse started. Any failure before or during the swap leaves the live data as it was.
 */
public final class BackupRestorer {
    private static final Logger LOG = LoggerFactory.getLogger(BackupRestorer.class);
    /** Free space kept in reserve on each destination filesystem. */
    private static final long SPACE_MARGIN = 64L << 20;

    private final Repository repo;
    private final Supplier<HomeserverConfig> homeserver;
    private final ServiceControl service;
    /** Test hook: called before each swap step with its number; may throw to inject a failure. */
    interface SwapHook {
        void beforeStep(int step, Path from, Path to) throws IOException;
    }

    private SwapHook swapHook = (step, from, to) -> { };
    /** PostgreSQL admin connection (config {@code postgres:}), or {@code null}. */
    private dev.synapsebackup.config.PostgresAdmin pgAdmin;

    public BackupRestorer(Repository repo, Supplier<HomeserverConfig> homeserver, ServiceControl service) {
        this.repo = repo;
        this.homeserver = homeserver;
        this.service = service;
    }

    void swapHook(SwapHook hook) {
        this.swapHook = hook;
    }

    public void pgAdmin(dev.synapsebackup.config.PostgresAdmin admin) {
        this.pgAdmin = admin;
    }

    public RestoreResult restore(String id, RestoreOptions options) throws IOException {
        long start = System.nanoTime();
        ObjectInfo data = BackupReader.dataObject(repo, id);
        boolean hasManifest = BackupReader.hasManifest(repo, id);
        if (!hasManifest && data.metadata().containsKey(BackupId.FORMAT_METADATA)) {
            throw BackupReader.unfinished(id);
        }
        Path temp = BackupReader.tempDir(null);
        try {
            Path manifestFile = hasManifest ? BackupReader.fetchManifest(repo, id, options.passphrase(), temp) : null;
            ManifestSummary summary = hasManifest ? Manifest.readSummary(manifestFile) : null;
            Layout layout = options.target() != null
                    ? Layout.target(options.target().toAbsolutePath().normalize(), options.dryRun())
                    : hasManifest ? Layout.fromManifest(summary, id) : Layout.fromHomeserver(homeserver.get(), id);
            long needed = hasManifest ? summary.totalBytes() : data.size();
            if (!options.dryRun()) {
                checkSpace(layout, manifestFile, needed);
            }
            DumpCheck dumpCheck = summary == null ? null : DumpCheck.of(summary);
            if (dumpCheck != null && layout.target == null && !options.dryRun()
                    && !(homeserver.get().database() instanceof DatabaseConfig.Postgres)) {
                throw new SynapseBackupException("backup " + id + " holds a PostgreSQL database, but "
                        + homeserver.get().configFiles() + " configures none to restore it into; use --target to get the dump");
            }
            Staged staged = stage(id, data, manifestFile, summary, layout, options, temp, dumpCheck);
            try {
                List<String> notes = new ArrayList<>(staged.notes);
                if (options.dryRun()) {
                    List<String> wouldChange = new ArrayList<>(layout.target == null ? layout.plannedDirs() : List.of());
                    wouldChange.addAll(layout.describeChanges());
                    return new RestoreResult(id, "dry-run", staged.files, staged.bytes, staged.downloaded,
                            Duration.ofNanos(System.nanoTime() - start), wouldChange, List.of(), notes);
                }
                if (layout.target != null) {
                    if (dumpCheck != null) {
                        notes.addAll(joinDumpForTarget(layout.target, summary));
                    }
                    return new RestoreResult(id, "target", staged.files, staged.bytes, staged.downloaded,
                            Duration.ofNanos(System.nanoTime() - start), List.of("restored into " + layout.target),
                            List.of(), notes);
                }
                List<String> changes = new ArrayList<>(layout.createdLines);
                changes.addAll(layout.describeChanges());
                notes.addAll(layout.createdNotes);
                DbStep dbStep = null;
                if (dumpCheck != null) {
                    DatabaseConfig.Postgres pg = (DatabaseConfig.Postgres) homeserver.get().database();
                    List<Path> chunks = stagedChunks(staged.dbStage, summary);
                    PostgresRestore pgRestore = new PostgresRestore(PgTools.system(), temp, pgAdmin);
                    PostgresRestore.Listing listing = pgRestore.listDump(chunks);
                    checkDump(summary, listing);
                    PostgresRestore.refuseLargeObjects(listing, pg.dbname() != null ? pg.dbname() : pg.user());
                    PostgresRestore.Options pgOptions = new PostgresRestore.Options(options.dropExisting(),
                            options.keepPrevious(), id.substring(BackupId.PREFIX.length()));
                    // Refuse a populated database before Synapse is stopped, not after.
                    pgRestore.preflight(pg, pgOptions);
                    changes.add("restore PostgreSQL database " + pg.dbname() + " from the dump (" + listing.entries()
                            + " entries)" + (options.dropExisting() ? ", replacing its contents in one transaction" : ""));
                    dbStep = () -> {
                        PostgresRestore.Result r = pgRestore.restore(pg, chunks, pgOptions);
                        if (r.created()) {
                            notes.add("created PostgreSQL database " + r.dbname()
                                    + ("admin".equals(r.createdBy()) ? " through the admin connection" : ""));
                        }
                        if (r.previous() != null && !r.previousDropped()) {
                            notes.add("the database's previous contents are kept in schema " + r.previous()
                                    + " of database " + r.dbname() + "; once satisfied, drop them with: sudo -u postgres psql -d "
                                    + r.dbname() + " -c 'DROP SCHEMA " + r.previous() + " CASCADE'");
                        }
                    };
                }
                List<String> kept = swapLive(id, layout, options, changes, notes, dbStep);
                return new RestoreResult(id, "live", staged.files, staged.bytes, staged.downloaded,
                        Duration.ofNanos(System.nanoTime() - start), changes, kept, notes);
            } finally {
                layout.removeStaging();
                layout.removeCreatedDirs(); // unless the swap succeeded
            }
        } finally {
            WorkDir.deleteTemporary(temp);
        }
    }

    private record Staged(long files, long bytes, long downloaded, List<String> notes, Path dbStage) {
    }

    /** The database step of a live restore, run after the files are swapped in. */
    private interface DbStep {
        void run() throws IOException;
    }

    /** The backup's PostgreSQL record; only called for a backup whose dump was found (see {@link DumpCheck}). */
    private static DatabaseRecord.Postgres dump(ManifestSummary summary) {
        return (DatabaseRecord.Postgres) summary.database();
    }

    private static List<Path> stagedChunks(Path dbStage, ManifestSummary summary) {
        List<Path> chunks = new ArrayList<>();
        for (String name : dump(summary).dumpEntries()) {
            chunks.add(dbStage.resolve(name));
        }
        return chunks;
    }

    private static void checkDump(ManifestSummary summary, PostgresRestore.Listing listing) {
        DatabaseRecord.Postgres dump = dump(summary);
        if (listing.bytes() != dump.dumpBytes() || !listing.sha256().equalsIgnoreCase(String.valueOf(dump.dumpSha256()))) {
            throw new IntegrityException("the PostgreSQL dump of " + summary.backupId()
                    + " differs from its manifest (dump-bytes/dump-sha256); nothing was restored");
        }
    }

    /** For --target: joins the dump's chunks into one file and says how to load it. */
    private static List<String> joinDumpForTarget(Path target, ManifestSummary summary) throws IOException {
        List<Path> chunks = stagedChunks(target, summary);
        String first = chunks.get(0).getFileName().toString();
        Path dump = chunks.get(0).resolveSibling(first.substring(0, first.lastIndexOf('.')));
        try (OutputStream out = Files.newOutputStream(dump, java.nio.file.StandardOpenOption.CREATE_NEW)) {
            for (Path c : chunks) {
                Files.copy(c, out);
            }
        }
        for (Path c : chunks) {
            Files.delete(c);
        }
        Files.setPosixFilePermissions(dump, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        List<String> notes = new ArrayList<>();
        notes.add("the PostgreSQL dump is " + dump + "; to load it into a new database:");
        DatabaseRecord.Postgres recorded = dump(summary);
        DatabaseConfig.Postgres pg = new DatabaseConfig.Postgres(recorded.host(),
                recorded.port() == null ? 5432 : recorded.port(), recorded.user(), null, recorded.dbname(), Map.of());
        notes.addAll(PostgresRestore.stockCommands(pg, dump));
        return notes;
    }

    /** Downloads, decrypts and extracts into staging, checking everything; live data untouched. */
    private Staged stage(String id, ObjectInfo data, Path manifestFile, ManifestSummary summary, Layout layout,
                         RestoreOptions options, Path temp, DumpCheck dumpCheck) throws IOException {
        boolean dryRun = options.dryRun();
        Path dbStage = temp.resolve("db");
        ChainReader.Handler handler = new ChainReader.Handler() {
            /** Where the PostgreSQL dump is staged, made at its first chunk. */
            private SafeExtractor dbExtractor;

            @Override
            public void directory(TarReader.Entry e) throws IOException {
                if (layout.accept(e) && !dryRun) {
                    layout.extractorFor(e).extract(e);
                }
            }

            @Override
            public void inheritedDirectory(TarReader.Entry e) throws IOException {
                if (layout.accept(e) && !dryRun) {
                    layout.extractorFor(e).extractDirectoryIfAbsent(e);
                }
            }

            @Override
            public ChainReader.Read file(TarReader.Entry e) throws IOException {
                if (!layout.accept(e)) {
                    throw new UnsafeEntryException(e.rawName(), "not a file this restore writes");
                }
                layout.count(e.name());
                if (dryRun) {
                    return ChainReader.Read.drain(e.content());
                }
                FileRecord rec = layout.extractorFor(e).extract(e);
                return new ChainReader.Read(rec.size(), rec.sha256());
            }

            @Override
            public void reserved(TarReader.Entry e) throws IOException {
                if (layout.target != null && !dryRun) {
                    layout.extractorFor(e).extract(e); // --target gets the whole archive, as tar -x would
                } else {
                    e.content().transferTo(OutputStream.nullOutputStream());
                }
            }

            @Override
            public ChainReader.Read reservedFile(TarReader.Entry e) throws IOException {
                if (dryRun) {
                    return ChainReader.Read.drain(dumpCheck != null && dumpCheck.isChunk(e.name())
                            ? dumpCheck.tee(e.content()) : e.content());
                }
                SafeExtractor x;
                if (layout.target != null) {
                    x = layout.extractorFor(e);
                } else {
                    // The dump is staged privately, never beside live data: pg_restore reads it from there.
                    if (dbExtractor == null) {
                        dbExtractor = new SafeExtractor(dbStage);
                    }
                    x = dbExtractor;
                }
                FileRecord rec = x.extract(e);
                return new ChainReader.Read(rec.size(), rec.sha256());
            }

            @Override
            public void other(TarReader.Entry e) throws IOException {
                throw new UnsafeEntryException(e.rawName(), "only regular files and directories are restored ("
                        + e.type().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ")");
            }
        };
        ChainReader reader = new ChainReader(repo, options.passphrase(), options.progress());
        boolean ok = false;
        try {
            ChainReader.Result r = manifestFile != null
                    ? reader.read(id, manifestFile, summary, handler)
                    : reader.readWhole(id, data.size(), handler);
            if (r.problemCount() > 0) {
                throw new IntegrityException("backup " + id + " does not match its manifest (" + r.problemCount()
                        + " problem(s), first: " + r.problems().get(0) + "); nothing was restored");
            }
            if (dryRun && dumpCheck != null) {
                List<String> dumpProblems = dumpCheck.finish();
                if (!dumpProblems.isEmpty()) {
                    throw new IntegrityException("backup " + id + ": " + dumpProblems.get(0));
                }
            }
            if (!dryRun) {
                layout.finishExtraction();
            }
            List<String> notes = new ArrayList<>();
            if (summary != null) {
                for (String skipped : BackupReader.skippedEntries(summary)) {
                    notes.add("/" + skipped + " was skipped when the backup was made (it changed or vanished): not restored");
                    if (!dryRun) {
                        layout.discardStaged(skipped);
                    }
                }
            } else {
                notes.add("backup " + id + " has no manifest (made by another tool): checked by its OpenPGP integrity"
                        + " code only");
            }
            ok = true;
            return new Staged(r.files(), r.bytes(), r.downloaded(), notes, dbStage);
        } finally {
            if (!ok) {
                layout.abandon();
            }
        }
    }

    private void checkSpace(Layout layout, Path manifestFile, long total) throws IOException {
        Map<FileStore, Long> need = new HashMap<>();
        Map<FileStore, Path> example = new HashMap<>();
        if (manifestFile != null && layout.target == null) {
            Map<Path, FileStore> storeOfStaging = new HashMap<>();
            try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
                while (it.hasNext()) {
                    ManifestFile f = it.next();
                    Unit u = layout.unitOf(f.path());
                    if (u == null) {
                        continue; // refused later, with the entry's name
                    }
                    Path staging = layout.stagingDirFor(u.live);
                    FileStore fs = storeOfStaging.get(staging);
                    if (fs == null) {
                        fs = store(staging);
                        storeOfStaging.put(staging, fs);
                    }
                    need.merge(fs, f.size(), Long::sum);
                    example.putIfAbsent(fs, staging);
                }
            }
        } else {
            Path where = layout.target != null ? layout.target : layout.anyStagingDir();
            FileStore fs = store(where);
            need.put(fs, total);
            example.put(fs, where);
        }
        for (Map.Entry<FileStore, Long> n : need.entrySet()) {
            long free = n.getKey().getUsableSpace();
            long required = n.getValue() + SPACE_MARGIN;
            if (free < required) {
                throw new SynapseBackupException("not enough free space for the restore on the filesystem of "
                        + existingAncestor(example.get(n.getKey())) + ": " + required + " bytes needed (with a "
                        + (SPACE_MARGIN >> 20) + " MiB margin), " + free + " available; nothing was changed");
            }
        }
    }

    private static FileStore store(Path p) throws IOException {
        return Files.getFileStore(existingAncestor(p));
    }

    static Path existingAncestor(Path p) {
        Path a = p.toAbsolutePath();
        while (a != null && !Files.exists(a, LinkOption.NOFOLLOW_LINKS)) {
            a = a.getParent();
        }
        return a == null ? Path.of("/") : a;
    }

    /**
     * Stops Synapse, swaps every staged unit into place (rolling back on failure), starts Synapse;
     * a SIGINT/SIGTERM meanwhile waits until this is done (see {@link Shutdown}).
     */
    private List<String> swapLive(String id, Layout layout, RestoreOptions options, List<String> changes,
                                  List<String> notes, DbStep dbStep) throws IOException {
        Shutdown.enterCritical();
        try {
            return swapLiveUninterrupted(id, layout, options, changes, notes, dbStep);
        } finally {
            Shutdown.exitCritical();
        }
    }

    private List<String> swapLiveUninterrupted(String id, Layout layout, RestoreOptions options, List<String> changes,
                                               List<String> notes, DbStep dbStep)
            throws IOException {
        if (options.noService()) {
            service.ensureNotRunning();
        } else {
            service.stop(false);
        }
        List<Path[]> done = new ArrayList<>();
        List<Path> asides = new ArrayList<>();
        List<Path> createdDirs = new ArrayList<>();
        int step = 0;
        try {
            for (Unit u : layout.unitsInOrder()) {
                Path staged = layout.stagedPath(u);
                if (!Files.exists(staged, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                List<Path> moveAside = new ArrayList<>();
                moveAside.add(u.live);
                if (u.sqlite) {
                    // A stale WAL or journal would be replayed into the restored database.
                    for (String suffix : new String[] {"-wal", "-shm", "-journal"}) {
                        moveAside.add(u.live.resolveSibling(u.live.getFileName() + suffix));
                    }
                }
                for (Path live : moveAside) {
                    if (Files.exists(live, LinkOption.NOFOLLOW_LINKS)) {
                        Path aside = live.resolveSibling(live.getFileName() + ".pre-restore-" + id);
                        if (Files.exists(aside, LinkOption.NOFOLLOW_LINKS)) {
                            throw new SynapseBackupException(aside + " already exists (left by an earlier restore of " + id
                                    + "?): move it away first; nothing was changed");
                        }
                        swapHook.beforeStep(++step, live, aside);
                        move(live, aside);
                        done.add(new Path[] {live, aside});
                        asides.add(aside);
                    }
                }
                Path parent = u.live.getParent();
                if (!Files.isDirectory(parent)) {
                    Path top = parent;
                    while (top.getParent() != null && !Files.exists(top.getParent())) {
                        top = top.getParent();
                    }
                    Files.createDirectories(parent);
                    createdDirs.add(top);
                }
                swapHook.beforeStep(++step, staged, u.live);
                move(staged, u.live);
                done.add(new Path[] {staged, u.live});
            }
            if (dbStep != null) {
                // Last, so that a failing database restore (which puts the old database back by
                // itself) is rolled back together with the files.
                dbStep.run();
            }
        } catch (IOException | RuntimeException e) {
            rollback(done, createdDirs);
            String restart = "";
            if (!options.noService()) {
                try {
                    if (!service.start()) {
                        restart = "; Synapse was stopped and must be started again by hand";
                    }
                } catch (SynapseBackupException startFailure) {
                    restart = "; starting Synapse again failed too: " + startFailure.getMessage();
                }
            }
            throw new SynapseBackupException("restore of " + id + " failed while swapping in the restored data ("
                    + e.getMessage() + "); every change was rolled back and the live data is as it was" + restart, e);
        }
        layout.keepCreated = true;
        List<String> kept = new ArrayList<>();
        if (options.keepPrevious()) {
            asides.forEach(a -> kept.add(a.toString()));
        } else {
            for (Path a : asides) {
                WorkDir.deleteTemporary(a);
            }
        }
        if (!options.noService()) {
            boolean started;
            try {
                started = service.start();
            } catch (SynapseBackupException e) {
                throw new SynapseBackupException(notStarted(id, changes, kept, notes, e), e);
            }
            if (!started) {
                notes.add("Synapse was stopped" + (service.stoppedByPid() ? " (SIGTERM to its pid)" : "")
                        + " and there is no \"service.start-command\": start it yourself");
            }
        }
        return kept;
    }

    /**
     * The message of a restore whose swap succeeded but whose start command failed: what is in
     * place now, why Synapse is not running, and that it must be started by hand.
     */
    static String notStarted(String id, List<String> changes, List<String> kept, List<String> notes,
                             SynapseBackupException e) {
        StringBuilder m = new StringBuilder("the backup " + id + " was restored, but Synapse did not start.\n");
        m.append("Restored:\n");
        for (String c : changes) {
            m.append("  ").append(c.replaceFirst("^replace ", "replaced ").replaceFirst("^create ", "created ")).append('\n');
        }
        for (String k : kept) {
            m.append("  kept the previous data as ").append(k).append('\n');
        }
        for (String n : notes) {
            m.append("  note: ").append(n).append('\n');
        }
        if (e instanceof ServiceControl.CommandFailedException f) {
            m.append("The start command ").append(f.command()).append(" failed with exit code ").append(f.commandExitCode());
            if (f.outputTail().isEmpty()) {
                m.append(" and printed nothing.\n");
            } else {
                m.append("; the last lines of its output:\n");
                f.outputTail().forEach(l -> m.append("  | ").append(l).append('\n'));
            }
        } else {
            m.append("Starting it failed: ").append(e.getMessage()).append('\n');
        }
        m.append("The data is restored and in place, but Synapse is not running: fix the cause above and start"
                + " Synapse by hand.");
        return m.toString();
    }

    private static void rollback(List<Path[]> done, List<Path> createdDirs) {
        for (int i = done.size() - 1; i >= 0; i--) {
            Path[] d = done.get(i);
            try {
                move(d[1], d[0]);
            } catch (IOException e) {
                LOG.error("ROLLBACK FAILED: could not move {} back to {}: {}", d[1], d[0], e.toString());
            }
        }
        for (Path dir : createdDirs) {
            WorkDir.deleteTemporary(dir);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " atomically (different filesystems?)", e);
        }
    }

    /** One live path that a restore replaces as a whole: a file, or a media directory. */
    private record Unit(Path live, boolean directory, boolean sqlite) {
        String entryName() {
            return Manifest.entryName(live);
        }
    }

    /**
     * Where entries go: into {@code --target}, or into a staging directory beside each live unit
     * ({@code <parent>/.synapse-restore-<id>/}, holding the full path below it).
     */
    private static final class Layout {
        final Path target;
        final String id;
        final boolean dryRun;
        /** Units by entry name; for backups of other tools, discovered as entries arrive. */
        final Map<String, Unit> units = new TreeMap<>();
        /** Directories entries may be in (charm backups): config dir, database dir, media store. */
        final List<String> allowedDirs = new ArrayList<>();
        String mediaStore;
        final Map<Path, SafeExtractor> extractors = new LinkedHashMap<>();
        final Set<Path> stagingDirs = new HashSet<>();
        final Map<String, Integer> counts = new HashMap<>();
        boolean dynamic;
        /**
         * Owner and mode of the directories above the units, by entry name: from the manifest
         * ({@code directories}), else from the archive's own directory entries (the charm's tar
         * has them), so that a directory this restore must create gets them.
         */
        final Map<String, ManifestDirectory> recorded = new HashMap<>();
        /** Live directories this restore created, in creation order; removed again if it fails. */
        final List<Path> createdDirs = new ArrayList<>();
        /** One line per directory created, and notes on those made without a record. */
        final List<String> createdLines = new ArrayList<>();
        final List<String> createdNotes = new ArrayList<>();
        /** Existing directories compared with their record already. */
        final Set<Path> checkedDirs = new HashSet<>();
        /** Set once the swap succeeded: the created directories hold the restored data then. */
        boolean keepCreated;

        private Layout(Path target, String id, boolean dryRun) {
            this.target = target;
            this.id = id;
            this.dryRun = dryRun;
        }

        static Layout target(Path target, boolean dryRun) throws IOException {
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                    throw new SynapseBackupException("--target " + target + " exists and is not a directory");
                }
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(target)) {
                    if (ds.iterator().hasNext()) {
                        throw new SynapseBackupException("--target " + target + " is not empty: restore into an empty or new"
                                + " directory");
                    }
                }
            }
            return new Layout(target, null, dryRun);
        }

        static Layout fromManifest(ManifestSummary s, String id) {
            Layout l = new Layout(null, id, false);
            String db = null;
            for (Map.Entry<String, List<String>> role : s.roots().entrySet()) {
                for (String p : role.getValue()) {
                    Path live = Path.of(p).toAbsolutePath().normalize();
                    boolean sqlite = role.getKey().equals(SynapseSources.ROLE_DATABASE);
                    boolean dir = role.getKey().equals(SynapseSources.ROLE_MEDIA);
                    l.units.put(Manifest.entryName(live), new Unit(live, dir, sqlite));
                    if (sqlite) {
                        db = p;
                    }
                }
            }
            if (db == null && s.database() instanceof DatabaseRecord.Sqlite sqlite && sqlite.path() != null) {
                String p = sqlite.path();
                Path live = Path.of(p);
                l.units.put(Manifest.entryName(live), new Unit(live, false, true));
            }
            for (ManifestDirectory d : s.directories()) {
                l.recorded.put(d.path(), d);
            }
            return l;
        }

        static Layout fromHomeserver(HomeserverConfig hs, String id) {
            Layout l = new Layout(null, id, false);
            l.dynamic = true;
            l.allowedDirs.add(Manifest.entryName(hs.configDir().toAbsolutePath().normalize()));
            if (hs.database() instanceof DatabaseConfig.Sqlite s) {
                Path db = s.path().toAbsolutePath().normalize();
                l.allowedDirs.add(Manifest.entryName(db.getParent()));
                l.units.put(Manifest.entryName(db), new Unit(db, false, true));
            }
            l.mediaStore = Manifest.entryName(hs.mediaStorePath().toAbsolutePath().normalize());
            l.allowedDirs.add(l.mediaStore);
            return l;
        }

        /**
         * Whether an entry is restored; false for entries this restore skips (the reserved
         * directory in a live restore, directories above the restored paths).
         *
         * @throws UnsafeEntryException for an entry outside the paths this backup may restore
         */
        boolean accept(TarReader.Entry e) {
            String name = e.name();
            if (target != null) {
                return true;
            }
            if (name.equals(".synapse-backup") || name.startsWith(Manifest.RESERVED_DIR)) {
                return false; // never written into the live filesystem
            }
            Unit u = unitOf(name);
            if (u == null && dynamic) {
                u = discover(name, e.type() == TarReader.Type.DIRECTORY);
            }
            if (u == null) {
                if (e.type() == TarReader.Type.DIRECTORY && (recorded.containsKey(name) || isAncestorOfUnitOrAllowed(name))) {
                    // e.g. /var/lib/matrix-synapse itself: not ours to replace, but what to create it as if it is missing
                    recorded.putIfAbsent(name, new ManifestDirectory(name, e.mode(), e.uid(), e.gid(),
                            e.userName(), e.groupName(), e.mtime()));
                    return false;
                }
                throw new UnsafeEntryException(e.rawName(), "outside the Synapse paths this backup may restore");
            }
            return true;
        }

        /** The extractor for an accepted entry. */
        SafeExtractor extractorFor(TarReader.Entry e) throws IOException {
            if (target != null) {
                return extractor(target);
            }
            Unit u = unitOf(e.name());
            ensureLiveDir(u.live.getParent(), e);
            return extractor(stagingDirFor(u.live));
        }

        /**
         * Creates {@code dir} and its missing parents as they were at backup time: owner, group
         * and mode from {@link #recorded}; for a backup that records none, like the unit being
         * restored into it ({@code like}, an entry of it), and said so; a directory every system
         * has ({@link ParentDirectories#SURELY_EXISTING}) as root's {@code 0755}. One line per
         * directory created goes to {@link #createdLines}.
         */
        void ensureLiveDir(Path dir, TarReader.Entry like) throws IOException {
            List<Path> missing = new ArrayList<>();
            Path d0 = dir;
            for (; d0 != null && !Files.exists(d0, LinkOption.NOFOLLOW_LINKS); d0 = d0.getParent()) {
                missing.add(0, d0);
            }
            for (; d0 != null; d0 = d0.getParent()) {
                noteIfChanged(d0);
            }
            for (Path d : missing) {
                String name = Manifest.entryName(d);
                ManifestDirectory rec = recorded.get(name);
                String how = "";
                if (rec == null && ParentDirectories.SURELY_EXISTING.contains(name)) {
                    rec = new ManifestDirectory(name, 0755, 0, 0, "root", "root", java.time.Instant.now());
                } else if (rec == null && like != null) {
                    // Directory-like bits of the entry's mode: 0640 -> 0750, 0600 -> 0700.
                    int mode = like.type() == TarReader.Type.DIRECTORY ? like.mode() & 07777
                            : (like.mode() & 0666) | ((like.mode() & 0444) >> 2);
                    rec = new ManifestDirectory(name, mode, like.uid(), like.gid(), like.userName(), like.groupName(),
                            java.time.Instant.now());
                    how = "/" + like.name();
                }
                Files.createDirectory(d);
                createdDirs.add(d);
                if (rec != null) {
                    applyOwnerAndMode(d, rec);
                }
                Map<String, Object> a = Files.readAttributes(d, "unix:mode,uid,gid,owner,group", LinkOption.NOFOLLOW_LINKS);
                createdLines.add("create directory " + d + " (" + a.get("owner") + ":" + a.get("group") + " ("
                        + a.get("uid") + ":" + a.get("gid") + "), mode " + Manifest.octal4((Integer) a.get("mode") & 07777) + ")");
                if (!how.isEmpty()) {
                    createdNotes.add("the backup does not record the owner and mode of " + d + ": it was created owned"
                            + " like " + how + " (check it before starting Synapse)");
                }
            }
        }

        /**
         * An existing directory is never changed, but one whose owner or mode differs from the
         * backup's record (a new disk mounted in its place is root's) may keep Synapse from
         * writing: say so, once.
         */
        private void noteIfChanged(Path d) throws IOException {
            ManifestDirectory rec = recorded.get(Manifest.entryName(d));
            if (rec == null || !checkedDirs.add(d)) {
                return;
            }
            Map<String, Object> a = Files.readAttributes(d, "unix:mode,uid,gid,owner,group");
            if (((Integer) a.get("mode") & 07777) != rec.mode() || (Integer) a.get("uid") != rec.uid()
                    || (Integer) a.get("gid") != rec.gid()) {
                createdNotes.add(d + " is " + a.get("owner") + ":" + a.get("group") + " (" + a.get("uid") + ":" + a.get("gid")
                        + "), mode " + Manifest.octal4((Integer) a.get("mode") & 07777) + ", but was " + rec.describe()
                        + " when the backup was made; it was left as it is (chown/chmod it if Synapse cannot write there)");
            }
        }

        private static void applyOwnerAndMode(Path d, ManifestDirectory rec) throws IOException {
            try {
                Files.setAttribute(d, "unix:uid", rec.uid(), LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(d, "unix:gid", rec.gid(), LinkOption.NOFOLLOW_LINKS);
            } catch (java.nio.file.FileSystemException notRoot) {
                // only root can give a directory away; it stays ours then
            }
            // Never world-writable without the sticky bit, whatever a (crafted) record or charm tar says.
            int mode = rec.mode() & 07777;
            if ((mode & 01000) == 0) {
                mode &= ~0002;
            }
            Files.setAttribute(d, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        }

        /** The missing directories above the units, as a restore would create them (for --dry-run). */
        List<String> plannedDirs() {
            java.util.Set<Path> missing = new java.util.TreeSet<>();
            for (Unit u : units.values()) {
                for (Path d = u.live.getParent(); d != null && !Files.exists(d, LinkOption.NOFOLLOW_LINKS); d = d.getParent()) {
                    missing.add(d);
                }
            }
            List<String> lines = new ArrayList<>();
            for (Path d : missing) {
                ManifestDirectory rec = recorded.get(Manifest.entryName(d));
                lines.add("create directory " + d + (rec != null ? " (" + rec.describe() + ")"
                        : " (not recorded in the backup: owned like what it holds)"));
            }
            return lines;
        }

        /** Removes the directories this restore created (a failed restore), deepest first, if empty. */
        void removeCreatedDirs() {
            if (keepCreated) {
                return;
            }
            for (int i = createdDirs.size() - 1; i >= 0; i--) {
                try {
                    Files.deleteIfExists(createdDirs.get(i));
                } catch (IOException e) {
                    LOG.warn("cannot remove the directory {} this restore created: {}", createdDirs.get(i), e.toString());
                }
            }
            createdDirs.clear();
        }

        private SafeExtractor extractor(Path root) throws IOException {
            SafeExtractor x = extractors.get(root);
            if (x == null) {
                if (target == null) {
                    if (Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
                        throw new SynapseBackupException("staging directory " + root + " already exists (an interrupted"
                                + " restore?): remove it and try again");
                    }
                    Files.createDirectories(root.getParent());
                    stagingDirs.add(root);
                }
                x = new SafeExtractor(root);
                extractors.put(root, x);
            }
            return x;
        }

        Unit unitOf(String name) {
            for (Map.Entry<String, Unit> u : units.entrySet()) {
                String k = u.getKey();
                if (name.equals(k) || (u.getValue().directory && name.startsWith(k + "/"))) {
                    return u.getValue();
                }
            }
            return null;
        }

        private Unit discover(String name, boolean isDirectory) {
            if (mediaStore != null && name.startsWith(mediaStore + "/")) {
                String rest = name.substring(mediaStore.length() + 1);
                String first = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
                if (!rest.contains("/") && !isDirectory) {
                    return null; // a file directly in the media store: not Synapse's layout
                }
                Unit u = new Unit(Path.of("/" + mediaStore, first), true, false);
                units.put(Manifest.entryName(u.live), u);
                return u;
            }
            if (isDirectory) {
                return null;
            }
            for (String dir : allowedDirs) {
                if (name.startsWith(dir + "/") && !dir.equals(mediaStore)) {
                    Unit u = new Unit(Path.of("/" + name), false, false);
                    units.put(name, u);
                    return u;
                }
            }
            return null;
        }

        private boolean isAncestorOfUnitOrAllowed(String name) {
            for (String k : units.keySet()) {
                if (k.startsWith(name + "/")) {
                    return true;
                }
            }
            for (String d : allowedDirs) {
                if (d.equals(name) || d.startsWith(name + "/") || name.startsWith(d + "/")) {
                    return true;
                }
            }
            return false;
        }

        Path stagingDirFor(Path live) {
            return live.getParent().resolve(".synapse-restore-" + id);
        }

        Path anyStagingDir() {
            return units.isEmpty() ? Path.of("/") : stagingDirFor(units.values().iterator().next().live);
        }

        Path stagedPath(Unit u) {
            return stagingDirFor(u.live).resolve(u.entryName());
        }

        void count(String name) {
            if (target == null) {
                Unit u = unitOf(name);
                if (u != null) {
                    counts.merge(u.entryName(), 1, Integer::sum);
                }
            }
        }

        List<Unit> unitsInOrder() {
            List<Unit> list = new ArrayList<>(units.values());
            list.sort(Comparator.comparing(Unit::entryName));
            return list;
        }

        List<String> describeChanges() {
            List<String> lines = new ArrayList<>();
            if (target != null) {
                lines.add("restore into " + target);
                return lines;
            }
            for (Unit u : unitsInOrder()) {
                int n = counts.getOrDefault(u.entryName(), 0);
                if (n == 0 && !u.directory) {
                    continue;
                }
                boolean exists = Files.exists(u.live, LinkOption.NOFOLLOW_LINKS);
                lines.add((exists ? "replace " : "create ") + u.live + (u.directory ? " (" + n + " files)" : ""));
            }
            return lines;
        }

        void finishExtraction() throws IOException {
            for (SafeExtractor x : extractors.values()) {
                x.finish();
            }
        }

        void discardStaged(String entryName) throws IOException {
            if (target != null) {
                return;
            }
            Unit u = unitOf(entryName);
            if (u != null) {
                Files.deleteIfExists(stagingDirFor(u.live).resolve(entryName));
            }
        }

        /** Staging failed: remove what was extracted (into --target, only what we wrote). */
        void abandon() {
            if (target != null) {
                if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                    try (DirectoryStream<Path> ds = Files.newDirectoryStream(target)) {
                        for (Path p : ds) {
                            WorkDir.deleteTemporary(p);
                        }
                    } catch (IOException e) {
                        LOG.warn("cannot clean up {}: {}", target, e.toString());
                    }
                }
                return;
            }
            removeStaging();
            removeCreatedDirs();
        }

        void removeStaging() {
            for (Path s : stagingDirs) {
                makeWritable(s);
                WorkDir.deleteTemporary(s);
            }
            stagingDirs.clear();
        }

        private static void makeWritable(Path root) {
            // finish() may have applied read-only directory modes; root can delete anyway, others cannot.
            try (var walk = Files.walk(root)) {
                walk.filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).forEach(p -> {
                    try {
                        Files.setAttribute(p, "unix:mode", 0700, LinkOption.NOFOLLOW_LINKS);
                    } catch (IOException | UnsupportedOperationException ignored) {
                        // best effort
                    }
                });
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }
}
