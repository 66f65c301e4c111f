package dev.synapsebackup.restore;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.PostgresAdmin;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.MediaStore;
import dev.synapsebackup.manifest.MediaSummary;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.ServiceControl;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Restores a backup (SPEC §5). Nothing live is touched until the whole backup has been
 * downloaded, decrypted, its MDC checked and every file matched against the manifest, in staging
 * directories beside the live paths ({@link RestoreLayout}, {@link Staging}). Only then is
 * Synapse stopped, each live path renamed aside and the staged one renamed into place, and
 * Synapse started ({@link LiveSwap}). Any failure before or during the swap leaves the live data
 * as it was.
 */
public final class BackupRestorer {
    private final Repository repo;
    private final Supplier<HomeserverConfig> homeserver;
    private final ServiceControl service;
    /** PostgreSQL admin connection (config {@code postgres:}), or {@code null}. */
    private final PostgresAdmin pgAdmin;
    private final FileMover mover;

    BackupRestorer(Repository repo, Supplier<HomeserverConfig> homeserver, ServiceControl service,
                   PostgresAdmin pgAdmin, FileMover mover) {
        this.repo = repo;
        this.homeserver = homeserver;
        this.service = service;
        this.pgAdmin = pgAdmin;
        this.mover = mover;
    }

    /** A restorer of backups in {@code repo} into the homeserver and service {@code config} names. */
    public static BackupRestorer of(ToolConfig config, Repository repo) {
        return of(config, repo, FileMover.ATOMIC);
    }

    /** As {@link #of(ToolConfig, Repository)}, renaming with {@code mover}. */
    static BackupRestorer of(ToolConfig config, Repository repo, FileMover mover) {
        Supplier<HomeserverConfig> hs = new LoadedOnce(config);
        Optional<Path> pidFile;
        try {
            pidFile = hs.get().pidFile();
        } catch (SynapseBackupException e) {
            // In a disaster the configuration may be gone too; a backup with a manifest does not need it.
            pidFile = Optional.empty();
        }
        ServiceControl service = new ServiceControl(config.stopCommand(), config.startCommand(), pidFile,
                Duration.ofMinutes(3));
        return new BackupRestorer(repo, hs, service, config.postgresAdmin().orElse(null), mover);
    }

    /** The homeserver configuration, loaded at first use: a restore from a manifest may not need it. */
    private static final class LoadedOnce implements Supplier<HomeserverConfig> {
        private final ToolConfig config;
        private HomeserverConfig loaded;

        LoadedOnce(ToolConfig config) {
            this.config = config;
        }

        @Override
        public HomeserverConfig get() {
            if (loaded == null) {
                loaded = HomeserverConfig.load(config.synapseConfigs());
            }
            return loaded;
        }
    }

    public RestoreResult restore(String id, RestoreOptions options) throws IOException {
        long start = System.nanoTime();
        try (OpenedBackup backup = OpenedBackup.open(repo, id, options.opener(), null)) {
            RestoreLayout layout = options.target() != null
                    ? RestoreLayout.target(options.target().toAbsolutePath().normalize())
                    : backup.hasManifest() ? RestoreLayout.fromManifest(backup.summary(), id)
                    : RestoreLayout.fromHomeserver(homeserver.get(), id);
            if (!options.dryRun()) {
                SpaceCheck.check(layout, backup.manifestFile(),
                        backup.hasManifest() ? backup.summary().totalBytes() : backup.data().size());
            }
            DumpCheck dumpCheck = backup.dumpCheck();
            if (dumpCheck != null && layout.target == null && !options.dryRun()
                    && !(homeserver.get().database() instanceof DatabaseConfig.Postgres)) {
                throw new SynapseBackupException("backup " + id + " holds a PostgreSQL database, but "
                        + homeserver.get().configFiles() + " configures none to restore it into; use --target to get the dump");
            }
            Staging.Staged staged = Staging.stage(repo, new Staging.Request(backup, layout, options, dumpCheck));
            try {
                return finish(backup, layout, options, staged, dumpCheck != null, start);
            } finally {
                layout.removeStaging();
                layout.dirs.removeCreated(); // unless the swap succeeded
            }
        }
    }

    /** After staging: reports a dry run, finishes a --target restore, or swaps the staged data in. */
    private RestoreResult finish(OpenedBackup backup, RestoreLayout layout, RestoreOptions options,
                                 Staging.Staged staged, boolean hasDump, long start) throws IOException {
        String id = backup.id();
        List<String> notes = new ArrayList<>(staged.notes());
        MediaSummary media = backup.hasManifest() ? backup.summary().media() : MediaSummary.NONE;
        if (options.dryRun()) {
            List<String> wouldChange = new ArrayList<>(layout.target == null ? layout.plannedDirs() : List.of());
            wouldChange.addAll(layout.describeChanges());
            for (MediaStore store : media.stores()) {
                wouldChange.add("media held in S3: the backup's objects that " + store.location()
                        + " lacks or holds in another version would be copied back (nothing there is deleted)");
            }
            return new RestoreResult(id, "dry-run", staged.files(), staged.bytes(), staged.downloaded(),
                    Duration.ofNanos(System.nanoTime() - start), wouldChange, List.of(), notes);
        }
        if (layout.target != null) {
            if (hasDump) {
                notes.addAll(PostgresStep.joinForTarget(layout.target,
                        (DatabaseRecord.Postgres) backup.summary().database()));
            }
            if (!media.isEmpty()) {
                // Only now: everything else is staged and verified.
                MediaRestore.Result r = MediaRestore.toTarget(repo, backup.manifestFile(), layout.target,
                        options.opener(), options.progress());
                notes.add("media held in S3: " + r.written() + " objects (" + r.bytes() + " bytes) written under "
                        + layout.target.resolve(MediaRestore.TARGET_DIR) + "/<bucket>/<key>");
            }
            return new RestoreResult(id, "target", staged.files(), staged.bytes(), staged.downloaded(),
                    Duration.ofNanos(System.nanoTime() - start), List.of("restored into " + layout.target),
                    List.of(), notes);
        }
        List<String> changes = new ArrayList<>(layout.dirs.createdLines());
        if (!media.isEmpty()) {
            // After everything else is staged and verified, before Synapse is stopped: the copies
            // only add objects the bucket lacks (or replace other versions), so Synapse may keep running.
            MediaRestore.Result r = MediaRestore.toLive(repo, backup.manifestFile(), media,
                    homeserver.get().s3MediaProviders(), options.opener(), options.progress());
            for (MediaStore store : media.stores()) {
                changes.add("media held in S3: " + store.location());
            }
            changes.add("media held in S3: " + r.written() + " of " + r.listed() + " objects (" + r.bytes()
                    + " bytes) copied back; the others were there already; nothing was deleted");
        }
        changes.addAll(layout.describeChanges());
        notes.addAll(layout.dirs.notes());
        LiveSwap.DatabaseStep dbStep = null;
        if (hasDump) {
            dbStep = PostgresStep.prepare(backup, staged.dbStage(), (DatabaseConfig.Postgres) homeserver.get().database(),
                    pgAdmin, options, changes, notes);
        }
        List<String> kept = new LiveSwap(service, mover).run(new LiveSwap.Request(id, layout, options, changes, notes,
                dbStep));
        return new RestoreResult(id, "live", staged.files(), staged.bytes(), staged.downloaded(),
                Duration.ofNanos(System.nanoTime() - start), changes, kept, notes);
    }
}
