package dev.synapsebackup.repository;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.SynapseBackupException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup-level operations of {@link Repository}, written once over the object-level ones so
 * that the S3 and local repositories follow exactly the same layout rules (SPEC §3).
 */
public abstract class AbstractRepository implements Repository {
    private static final Logger LOG = LoggerFactory.getLogger(AbstractRepository.class);

    @Override
    public boolean canUseBucket() {
        try {
            checkAccess();
            return true;
        } catch (SynapseBackupException e) {
            LOG.warn("{}", e.getMessage());
            return false;
        }
    }

    @Override
    public boolean exists(String backupId) {
        if (!BackupId.isPlausible(backupId) || !BackupId.isBackupName(backupId)) {
            return false;
        }
        try {
            return stat(backupId).isPresent();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check whether " + backupId + " exists in " + location(), e);
        }
    }

    @Override
    public List<BackupEntry> list() {
        return list(true).backups();
    }

    @Override
    public RepositoryListing listing() {
        return list(true);
    }

    @Override
    public List<BackupEntry> listWithoutMetadata() {
        return list(false).backups();
    }

    @Override
    public RepositoryListing listingWithoutMetadata() {
        return list(false);
    }

    private RepositoryListing list(boolean lookUpMetadata) {
        ListingCollector listed = new ListingCollector();
        try {
            // Copies of media held in S3 (FORMAT.md §10) are no backups and may be millions: not listed.
            listed.mediaCopies = listObjectsSkipping(MEDIA_PREFIX, listed);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + location(), e);
        }
        return listed.build(lookUpMetadata ? metadataOf(listed.data) : Map.of());
    }

    /**
     * The user metadata of listed objects (a listing does not carry it). Looked up in parallel,
     * a bounded number at a time, instead of one request after the other.
     */
    protected Map<String, Map<String, String>> metadataOf(List<ObjectInfo> objects) {
        Map<String, Map<String, String>> result = new java.util.concurrent.ConcurrentHashMap<>();
        List<ObjectInfo> missing = new ArrayList<>();
        for (ObjectInfo o : objects) {
            if (o.metadata().isEmpty()) {
                missing.add(o);
            } else {
                result.put(o.key(), o.metadata());
            }
        }
        if (missing.isEmpty()) {
            return result;
        }
        int threads = Math.min(16, missing.size());
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "metadata-lookup");
            t.setDaemon(true);
            return t;
        });
        try {
            List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
            for (ObjectInfo o : missing) {
                futures.add(pool.submit(() -> {
                    try {
                        stat(o.key()).ifPresent(full -> result.put(o.key(), full.metadata()));
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read metadata of " + o.key() + " in " + location(), e);
                    }
                }));
            }
            for (java.util.concurrent.Future<?> f : futures) {
                f.get();
            }
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while listing " + location());
        } finally {
            pool.shutdownNow();
        }
        return result;
    }

    @Override
    public java.util.Optional<java.time.Instant> retainedUntil(String backupId) {
        try {
            java.util.Optional<java.time.Instant> data = objectRetainedUntil(backupId);
            java.util.Optional<java.time.Instant> manifest = objectRetainedUntil(BackupId.manifestKey(backupId));
            if (data.isEmpty()) {
                return manifest;
            }
            return manifest.isPresent() && manifest.get().isAfter(data.get()) ? manifest : data;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the retention of " + backupId + " in " + location(), e);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Only a backup is deleted (a name that {@link BackupId#isBackupName} accepts); any other
     * key is "not found", whatever is stored under it.
     */
    /** Where the copies of S3-held media live: {@code media/<holder backup id>/<bucket>/<key>}. */
    public static final String MEDIA_PREFIX = "media/";

    /** Deletes every object whose key starts with {@code subPrefix}; returns how many. */
    public long deleteUnder(String subPrefix) throws IOException {
        if (!subPrefix.endsWith("/") || subPrefix.equals("/")) {
            throw new IllegalArgumentException("not a directory prefix: " + subPrefix);
        }
        List<String> batch = new ArrayList<>();
        long[] count = {0};
        // A listing page at a time, deleting as it goes: memory stays flat at a million objects.
        IOException[] failure = new IOException[1];
        listStored(subPrefix, o -> {
            if (failure[0] != null) {
                return;
            }
            batch.add(o.key());
            if (batch.size() >= 1000) {
                failure[0] = deleteAll(batch);
                count[0] += 1000;
                batch.clear();
            }
        });
        if (failure[0] != null) {
            throw failure[0];
        }
        count[0] += batch.size();
        IOException last = deleteAll(batch);
        if (last != null) {
            throw last;
        }
        return count[0];
    }

    private IOException deleteAll(List<String> keys) {
        try {
            deleteObjects(List.copyOf(keys));
            return null;
        } catch (IOException e) {
            return e;
        }
    }

    @Override
    public void delete(String backupId) {
        if (!exists(backupId)) {
            throw new BackupNotFoundException(backupId);
        }
        boolean manifestDeleted = false;
        try {
            // Manifest first: a backup without its commit marker is "unfinished", never a
            // manifest pointing at missing data.
            deleteObject(BackupId.manifestKey(backupId));
            manifestDeleted = true;
            // Then the S3-held media this backup holds (FORMAT.md §10); retention keeps a backup
            // whose media copies a kept backup still lists, as it keeps the data objects.
            deleteUnder(MEDIA_PREFIX + backupId + "/");
            deleteObject(backupId);
        } catch (IOException e) {
            // A store may refuse one of the two (an object under retention, a policy without
            // s3:DeleteObject): say what is left, which is always a consistent state.
            throw new UncheckedIOException("cannot delete " + backupId + " from " + location() + (manifestDeleted
                    ? " (its manifest was deleted, its data object was not: it is now an unfinished backup, which"
                            + " prune removes)"
                    : " (nothing was deleted)"), e);
        }
    }
}
