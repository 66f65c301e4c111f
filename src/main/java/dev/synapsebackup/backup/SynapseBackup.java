package dev.synapsebackup.backup;

import dev.synapsebackup.Progress;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.create.BackupCreator;
import dev.synapsebackup.create.CreateOptions;
import dev.synapsebackup.create.CreateResult;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.DataObject;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestDependencyReader;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.restore.BackupRestorer;
import dev.synapsebackup.restore.BackupVerifier;
import dev.synapsebackup.restore.RestoreOptions;
import dev.synapsebackup.restore.RestoreResult;
import dev.synapsebackup.restore.StockPipeline;
import dev.synapsebackup.restore.VerifyResult;
import dev.synapsebackup.retention.Deleter;
import dev.synapsebackup.retention.KeepPolicy;
import dev.synapsebackup.retention.Pruner;
import dev.synapsebackup.synapse.HomeserverConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

/**
 * The public facade: everything the CLI does, callable from another JVM program. Each operation
 * returns a result object that the caller prints as it likes; failures are
 * {@link dev.synapsebackup.SynapseBackupException}s whose exit codes follow SPEC §2.
 */
public final class SynapseBackup implements AutoCloseable {
    private final ToolConfig config;
    private final Repository repo;
    private final Clock clock;

    /** A facade over {@code repo}, configured by {@code config}. */
    public SynapseBackup(ToolConfig config, Repository repo, Clock clock) {
        this.config = config;
        this.repo = repo;
        this.clock = clock;
    }

    /** Opens the repository {@code config} names. */
    public static SynapseBackup open(ToolConfig config) {
        return new SynapseBackup(config, RepositoryFactory.open(config), Clock.systemUTC());
    }

    /** The underlying repository. */
    public Repository repository() {
        return repo;
    }

    /** Server-side copies of larger media objects are multipart (S3 copies at most 5 GiB at once). */
    private static final long MEDIA_MULTIPART_THRESHOLD = 5L * 1024 * 1024 * 1024;

    /**
     * Where the homeserver's media live and what a backup would take from each place (local
     * media store, buckets of synapse-s3-storage-provider, listed and counted), for
     * {@code create --dry-run}.
     */
    public dev.synapsebackup.create.MediaPlan mediaPlan(boolean includeRemoteMedia) {
        HomeserverConfig hs = HomeserverConfig.load(config.synapseConfigs());
        return dev.synapsebackup.create.MediaPlan.of(hs, repo, includeRemoteMedia, config.mediaEncryption());
    }

    /** Makes a backup of the homeserver the configuration names. */
    public CreateResult create(CreateOptions options) {
        HomeserverConfig hs = HomeserverConfig.load(config.synapseConfigs());
        if (repo instanceof LocalRepository local) {
            local.createIfMissing();
        }
        repo.checkAccess();
        try {
            return new BackupCreator(repo, hs, options, clock)
                    .mediaCopy(config.mediaCopyParallelism(), MEDIA_MULTIPART_THRESHOLD)
                    .mediaEncryption(config.mediaEncryption()).create();
        } catch (IOException e) {
            throw new UncheckedIOException("Backup failed", e);
        }
    }

    /** All backups, oldest first. */
    public List<BackupEntry> list() {
        return repo.list();
    }

    /** Decrypts and summarises a backup's manifest. */
    public ShowResult show(String id, Secret passphrase) {
        return show(id, Opener.passphrase(passphrase));
    }

    /** Decrypts and summarises a backup's manifest, opened by {@code opener} (the passphrase or a secret key). */
    public ShowResult show(String id, Opener opener) {
        try {
            BackupReader.dataObject(repo, id);
            if (!BackupReader.hasManifest(repo, id)) {
                throw new dev.synapsebackup.SynapseBackupException("backup " + id
                        + " has no manifest (made by another tool, or unfinished): only verify and restore can read it");
            }
            Path temp = BackupReader.tempDir(null);
            try {
                Path manifest = BackupReader.fetchManifest(repo, id, opener, temp);
                List<DataObject> objects;
                ManifestSummary summary;
                try (Manifest.FileIterator it = Manifest.files(manifest)) {
                    objects = DataObject.of(it, id);
                    summary = it.summary(); // the same pass: the trailer follows the file list
                }
                return new ShowResult(summary, objects, databaseBytes(manifest, summary));
            } finally {
                WorkDir.deleteTemporary(temp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of " + id, e);
        }
    }

    /** Reads a whole backup back and checks it against its manifest. */
    public VerifyResult verify(String id, Secret passphrase, Progress progress) {
        return verify(id, Opener.passphrase(passphrase), progress, false);
    }

    /** As {@link #verify(String, Secret, Progress)}, opened by {@code opener} (the passphrase or a secret key). */
    public VerifyResult verify(String id, Opener opener, Progress progress) {
        return verify(id, opener, progress, false);
    }

    /**
     * As {@link #verify(String, Opener, Progress)}; {@code allMedia} reads back every copy of
     * S3-held media whose SHA-256 was recorded, not only a sample.
     */
    public VerifyResult verify(String id, Opener opener, Progress progress, boolean allMedia) {
        try {
            return new BackupVerifier(repo).verify(id, opener, null, progress == null ? Progress.NONE : progress,
                    allMedia);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot verify " + id, e);
        }
    }

    /**
     * Restores a backup into the live Synapse (stop, staged and verified restore, swap, start) or,
     * with {@link RestoreOptions#target()}, into a directory.
     */
    public RestoreResult restore(String id, RestoreOptions options) {
        try {
            return BackupRestorer.of(config, repo).restore(id, options);
        } catch (IOException e) {
            throw new UncheckedIOException("restore of " + id + " failed; the live data was not changed", e);
        }
    }

    /**
     * The stock-tools procedure that restores {@code id} into {@code target}. For an incremental
     * backup the manifests are read to find the chain's objects and the files to remove, which
     * needs the passphrase; for a full backup {@code passphrase} may be null.
     */
    public List<String> restoreCommand(String id, Path target, java.util.function.Supplier<Secret> passphrase) {
        return restoreCommandWith(id, target, () -> Opener.passphrase(passphrase.get()));
    }

    /**
     * As {@link #restoreCommand(String, Path, java.util.function.Supplier)}; {@code opener} (the
     * passphrase or a secret key) opens the manifests of an incremental backup.
     */
    public List<String> restoreCommandWith(String id, Path target, java.util.function.Supplier<Opener> opener) {
        try {
            var data = BackupReader.dataObject(repo, id);
            boolean s3Media = data.metadata().containsKey(dev.synapsebackup.repository.BackupId.MEDIA_METADATA);
            if (!"incremental".equals(data.metadata().get(dev.synapsebackup.repository.BackupId.KIND_METADATA))
                    && !s3Media) {
                return StockPipeline.restoreCommand(config, id, target);
            }
            Opener secret = opener.get();
            Path temp = BackupReader.tempDir(null);
            try {
                Path manifest = BackupReader.fetchManifest(repo, id, secret, temp);
                List<String> objects = new java.util.ArrayList<>(DataObject.of(manifest, id).stream().map(DataObject::backupId).toList());
                java.util.Collections.sort(objects); // ids sort by time: oldest first
                objects.remove(id);
                objects.add(id);
                // Paths of the final backup, to find what older objects hold that it does not.
                java.util.Set<String> keep = new java.util.HashSet<>();
                try (Manifest.FileIterator it = Manifest.files(manifest)) {
                    it.forEachRemaining(f -> keep.add(f.path()));
                }
                java.util.Map<String, Path> older = new java.util.HashMap<>();
                java.util.function.Function<String, Path> fetch = o -> older.computeIfAbsent(o, k -> {
                    try {
                        return BackupReader.fetchManifest(repo, k, secret, temp);
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read the manifest of " + k, e);
                    }
                });
                java.util.Set<String> remove = new java.util.TreeSet<>();
                for (String o : objects.subList(0, objects.size() - 1)) {
                    Path om = fetch.apply(o);
                    try (Manifest.FileIterator it = Manifest.files(om)) {
                        it.forEachRemaining(f -> {
                            if (o.equals(f.backup()) && !keep.contains(f.path())) {
                                remove.add(f.path());
                            }
                        });
                    }
                }
                List<String> media = dev.synapsebackup.restore.MediaRestore.scriptLines(config, id, manifest, fetch);
                return StockPipeline.restoreCommand(config, objects, List.copyOf(remove), target, media);
            } finally {
                WorkDir.deleteTemporary(temp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look up " + id, e);
        }
    }

    /**
     * What {@code show} tells: the manifest summary; per data object the backup needs, how many
     * files and bytes it holds (one object for a full backup; the chain for an incremental); and
     * the size of the database as backed up (-1 if unknown).
     */
    public record ShowResult(ManifestSummary summary, List<DataObject> objects, long databaseBytes) {
        /** Without the database's size (unknown). */
        public ShowResult(ManifestSummary summary, List<DataObject> objects) {
            this(summary, objects, -1);
        }
    }

    /** The size of the database as backed up: the SQLite file's record, or the PostgreSQL dump's; -1 if unknown. */
    private static long databaseBytes(Path manifest, ManifestSummary summary) throws IOException {
        if (summary.database() instanceof DatabaseRecord.Postgres pg) {
            return pg.dumpBytes();
        }
        if (!(summary.database() instanceof DatabaseRecord.Sqlite sqlite) || sqlite.path() == null) {
            return -1;
        }
        String entry = Manifest.entryName(Path.of(sqlite.path()).toAbsolutePath().normalize());
        try (Manifest.FileIterator it = Manifest.files(manifest)) {
            while (it.hasNext()) {
                ManifestFile f = it.next();
                if (f.path().equals(entry)) {
                    return f.size();
                }
            }
        }
        return -1;
    }

    /**
     * Deletes a backup under the repository lock; refused if other backups need its data (naming
     * them) unless {@code force}, which deletes those too. The passphrase is asked for only when
     * manifests must be read to find dependants.
     */
    public Deleter.DeleteResult delete(String id, boolean force, java.util.function.Supplier<Secret> passphrase) {
        return delete(id, force, passphrase, s -> { });
    }

    /** As {@link #delete(String, boolean, java.util.function.Supplier)}, telling {@code info} what it does beyond {@code id}. */
    public Deleter.DeleteResult delete(String id, boolean force, java.util.function.Supplier<Secret> passphrase,
                                       java.util.function.Consumer<String> info) {
        return Deleter.delete(repo, id, force, dependencies(passphrase), clock, info);
    }

    /**
     * How dependencies are found: from the manifests, which the passphrase opens; with
     * {@code encryption.recipients} from the data objects' metadata alone, as this host may hold no
     * secret key (each incremental names its parent; its chain holds all it may need).
     */
    private dev.synapsebackup.manifest.DependencyReader dependencies(java.util.function.Supplier<Secret> passphrase) {
        return config.publicKeyEncryption() ? Pruner.metadataDependencies(repo)
                : new ManifestDependencyReader(repo, passphrase, null);
    }

    /** Applies a retention policy under the repository lock (or only plans it, with {@code dryRun}). */
    public Pruner.PruneResult prune(KeepPolicy policy, boolean dryRun, java.util.function.Supplier<Secret> passphrase) {
        return Pruner.prune(repo, policy, dryRun, dependencies(passphrase), clock);
    }

    @Override
    public void close() {
        repo.close();
    }
}
