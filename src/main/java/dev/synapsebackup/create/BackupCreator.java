package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.Shutdown;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.EncryptionKey;
import dev.synapsebackup.crypto.Encryptor;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.MediaStore;
import dev.synapsebackup.manifest.MediaSummary;
import dev.synapsebackup.manifest.ParentDirectories;
import dev.synapsebackup.manifest.Roots;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryListing;
import dev.synapsebackup.repository.RepositoryLock;
import dev.synapsebackup.repository.S3MediaBucket;
import dev.synapsebackup.synapse.S3MediaProvider;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.SynapseSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.FutureTask;

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
 *
 * <p>The stages, each its own class: {@link ParentChoice}, {@link DatabaseCapture},
 * {@link SizeEstimate}, {@link ArchivePipeline} (with {@link MediaArchiver}) and
 * {@link BackupCommit}. A signal interrupts the thread running {@link #create} (through
 * {@link Shutdown}, also for API use), whose failure paths abort the upload and remove the work
 * directory.
 */
public final class BackupCreator {
    private final Repository repo;
    private final HomeserverConfig homeserver;
    private final CreateOptions options;
    private final Clock clock;
    private int mediaParallelism = MediaCopier.DEFAULT_PARALLELISM;
    private long mediaMultipartThreshold = MediaCopier.DEFAULT_MULTIPART_THRESHOLD;
    private org.apache.hc.client5.http.DnsResolver mediaDnsResolver;
    private boolean mediaEncryption;

    public BackupCreator(Repository repo, HomeserverConfig homeserver, CreateOptions options, Clock clock) {
        this.repo = repo;
        this.homeserver = homeserver;
        this.options = options;
        this.clock = clock;
    }

    /**
     * How S3-held media is copied: {@code parallelism} copies at once (config
     * {@code media-copy-parallelism}, default 8), and server-side copies of objects larger than
     * {@code multipartThreshold} bytes in parts (default 5 GiB, S3's limit for one CopyObject).
     */
    public BackupCreator mediaCopy(int parallelism, long multipartThreshold) {
        if (parallelism < 1 || multipartThreshold < 1) {
            throw new IllegalArgumentException("media copy parallelism and threshold must be positive");
        }
        this.mediaParallelism = parallelism;
        this.mediaMultipartThreshold = multipartThreshold;
        return this;
    }

    /**
     * Whether S3-held media are streamed and stored as OpenPGP messages (config
     * {@code media-encryption}), encrypted as the run's other objects; default false.
     */
    public BackupCreator mediaEncryption(boolean encrypt) {
        this.mediaEncryption = encrypt;
        return this;
    }

    /** Resolves the media buckets' host names (tests map {@code *.localhost}); null for the system's. */
    public BackupCreator mediaDnsResolver(org.apache.hc.client5.http.DnsResolver resolver) {
        this.mediaDnsResolver = resolver;
        return this;
    }

    public CreateResult create() throws IOException {
        Shutdown.Scope cancellable = Shutdown.interruptOnShutdown();
        try {
            return createUnderLock(System.nanoTime());
        } finally {
            cancellable.close();
        }
    }

    private CreateResult createUnderLock(long startNanos) throws IOException {
        SynapseSources sources = SynapseSources.of(homeserver, options.includeRemoteMedia());
        Progress progress = options.progress();
        Secret passphrase = options.passphrase();
        BackupCommit commit = new BackupCommit(repo);

        // In the run's work directory: removed by the next run if this one is killed.
        Path temp = Files.createTempDirectory(options.tempDir() == null ? WorkDir.get()
                : WorkDir.under(options.tempDir()), "create-");
        DatabaseCapture database = null;
        List<S3MediaBucket> mediaBuckets = new ArrayList<>();
        MediaCopier mediaCopier = null;
        String createdId = null;
        boolean committed = false;
        // One writer at a time: prune or delete must not remove the parent this backup builds on.
        try (RepositoryLock lock = RepositoryLock.acquire(repo, "create", clock, RepositoryLock.DEFAULT_STALE_AFTER)) {
            // Keys are slow to derive by design: on their own thread, while the parent is read. One
            // per object, each with its own salt (v4 SKESKs under one key would share a keystream).
            // Recipients need no key derived: each message gets its own session key.
            FutureTask<Encryptor[]> keyTask = new FutureTask<>(() -> passphrase == null
                    ? new Encryptor[] {options.recipients(), options.recipients()}
                    : new Encryptor[] {Encryptor.of(EncryptionKey.derive(passphrase)),
                        Encryptor.of(EncryptionKey.derive(passphrase))});
            if (passphrase == null) {
                keyTask.run();
            } else {
                Tasks.startDaemon(keyTask, "synapse-backup-key");
            }
            // Taken under the lock, so it stays true for this run: no other run adds or removes
            // backups meanwhile. Which objects exist is then known without a request per object.
            // The lock's own listing is that listing when it made one (one request less).
            RepositoryListing listing = lock.takeListing().orElseGet(repo::listingWithoutMetadata);
            List<BackupEntry> entries = listing.backups();
            // A SQLite snapshot starts now, on its own thread: it takes about as long as reading
            // the parent's manifest.
            database = DatabaseCapture.start(sources.database(), temp,
                    ParentChoice.newestComplete(entries).flatMap(e -> BackupId.timeOf(e.id())).orElse(null));
            commit.removeLeftovers();
            if (listing.mediaCopies()) {
                MediaCopier.removeOrphans(repo, entries);
            }
            String id = newId(entries);
            createdId = id;
            Instant created = BackupId.timeOf(id).orElseThrow();
            HostState state = options.recipients() == null ? null
                    : new HostState(options.stateDirectory(), repo.location());
            if (state != null) {
                state.accessWarning().ifPresent(options.progress()::warn);
            }
            Parent parent = new ParentChoice(repo, homeserver.serverName(), options, state)
                    .choose(created, entries, temp, database.liveEntry());
            String kind = parent == null ? "full" : "incremental";

            // Keys and configuration first: the smallest and most precious part of a backup.
            Set<Path> head = new LinkedHashSet<>();
            sources.signingKeys().forEach(p -> head.add(absolute(p)));
            sources.configFiles().forEach(p -> head.add(absolute(p)));
            SizeEstimate estimate = new SizeEstimate();
            head.forEach(estimate::add);
            if (parent == null) {
                estimate.addMedia(sources.mediaIterator());
            }
            // The database before any upload, so that a broken database fails the run first.
            database.prepare(parent, progress, estimate);
            if (estimate.isEmpty()) {
                throw new SynapseBackupException("Backup failed: no paths to back up");
            }
            long expectedPlain = estimate.plainBytes(parent == null ? null : parent.summary());

            Roots roots = Roots.of(sources);
            List<Path> rootPaths = roots.all();
            if (database.live() != null) {
                rootPaths.add(database.live());
            }
            // Owner and mode of the directories above the roots, so that a restore can recreate them.
            ParentDirectories parents = ParentDirectories.of(rootPaths);
            // Media held in S3 (synapse-s3-storage-provider): copied into media/<id>/ (MediaCopier).
            List<S3MediaProvider> providers = MediaCopier.ordered(homeserver.s3MediaProviders());
            List<MediaStore> mediaStores = MediaCopier.stores(providers, options.includeRemoteMedia());
            for (S3MediaProvider p : providers) {
                mediaBuckets.add(new S3MediaBucket(p.toParameters(), mediaDnsResolver, mediaParallelism * 2, 1000));
            }
            if (!providers.isEmpty()) {
                mediaCopier = new MediaCopier(repo, id, mediaParallelism, mediaMultipartThreshold, progress);
                if (mediaEncryption) {
                    // A passphrase key per copy, derived on the copying thread (one per message, as
                    // keyTask's); recipients give each message its own session key by themselves.
                    mediaCopier.encryptWith(passphrase == null ? options::recipients
                            : () -> Encryptor.of(EncryptionKey.derive(passphrase)));
                }
            }
            ManifestSummary header = new ManifestSummary(Manifest.FORMAT, id, created, ToolVersion.get(),
                    homeserver.serverName(), kind, parent == null ? null : parent.id(),
                    parent == null ? id : parent.summary().fullBackup(), roots, DatabaseRecord.none(), List.of(), 0, 0,
                    parents.records(), new MediaSummary(mediaStores, 0, 0));
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put(BackupId.FORMAT_METADATA, String.valueOf(Manifest.FORMAT));
            metadata.put(BackupId.KIND_METADATA, kind);
            if (parent != null) {
                metadata.put(BackupId.PARENT_METADATA, parent.id());
            }
            if (!mediaStores.isEmpty()) {
                // So that restore --print-command knows, without the passphrase, to read the manifest.
                metadata.put(BackupId.MEDIA_METADATA, String.valueOf(mediaStores.size()));
            }
            Encryptor[] keys = Tasks.await(keyTask, "deriving the encryption keys");

            Path manifestFile = temp.resolve("manifest.json");
            long fileCount;
            ArchiveCounters counters;
            long stored;
            try (ObjectWriter writer = repo.create(id, SizeEstimate.cipherBytes(expectedPlain), metadata)) {
                progress.start("backup " + id + (parent == null ? "" : " (incremental)"), expectedPlain);
                try (ArchivePipeline archive = new ArchivePipeline(writer, keys[0], manifestFile, header, progress)) {
                    for (Path p : head) {
                        parents.before(archive.tar(), Manifest.entryName(p));
                        archive.add(p, Manifest.entryName(p));
                    }
                    if (database.live() != null) {
                        parents.before(archive.tar(), Manifest.entryName(database.live()));
                    }
                    for (Path r : sources.mediaRoots()) {
                        parents.before(archive.tar(), Manifest.entryName(absolute(r)));
                    }
                    database.archive(archive, created);
                    MediaArchiver.archive(sources, parent, archive);
                    if (mediaCopier != null) {
                        // After the database, as the local media: every medium the database names is there.
                        mediaCopier.copy(mediaStores, mediaBuckets, parent, archive.manifest());
                        progress.start("backup " + id + " (manifest)", -1);
                    }
                    fileCount = archive.finish(database.record());
                    counters = archive.counters();
                }
                progress.finish();
                stored = writer.commit().size();
            }
            // The manifest is the commit marker: written only once the data object is complete.
            BackupCommit.Stored manifestStored = commit.commit(id, manifestFile, keys[1], lock);
            if (state != null) {
                keep(state, id, manifestFile, manifestStored);
            }
            committed = true;
            return new CreateResult(id, kind, parent == null ? null : parent.id(), fileCount, counters.sourceBytes(),
                    counters.archivedFiles(), counters.archivedBytes(), stored, database.outcome(), counters.skipped(),
                    Duration.ofNanos(System.nanoTime() - startNanos), mediaCopier == null ? CreateResult.Media.NONE
                    : new CreateResult.Media(mediaCopier.objects(), mediaCopier.bytes(), mediaCopier.copiedServerSide(),
                            mediaCopier.streamed()));
        } finally {
            if (mediaCopier != null) {
                if (!committed && !manifestArrived(createdId)) {
                    mediaCopier.rollback(); // a failed run leaves no media copies either
                }
                mediaCopier.close();
            }
            mediaBuckets.forEach(S3MediaBucket::close);
            if (database != null) {
                database.close(); // its thread writes into temp
            }
            WorkDir.deleteTemporary(temp);
        }
    }

    /** The next incremental's parent manifest, on the host; the backup is made either way. */
    private void keep(HostState state, String id, Path manifestFile, BackupCommit.Stored stored) {
        try {
            state.save(id, manifestFile, stored);
        } catch (IOException | RuntimeException e) {
            options.progress().warn("cannot keep the manifest of " + id + " in " + state.directory() + " (" + e.getMessage()
                    + "): the next backup will be a full one");
        }
    }

    /** Whether the manifest of {@code id} is stored: the commit's answer was lost, not the commit. */
    private boolean manifestArrived(String id) {
        if (id == null) {
            return false;
        }
        boolean interrupted = Thread.interrupted();
        try {
            return repo.stat(BackupId.manifestKey(id)).isPresent();
        } catch (IOException | RuntimeException e) {
            return false;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private String newId(List<BackupEntry> entries) {
        Set<String> existing = new HashSet<>();
        entries.forEach(e -> existing.add(e.id()));
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
}
