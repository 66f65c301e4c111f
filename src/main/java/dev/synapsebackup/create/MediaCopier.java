package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.io.CountingOutputStream;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.MediaObject;
import dev.synapsebackup.manifest.MediaStore;
import dev.synapsebackup.repository.AbstractRepository;
import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3MediaBucket;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.repository.StoredObject;
import dev.synapsebackup.synapse.S3MediaProvider;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the media that synapse-s3-storage-provider keeps in S3 into the repository, as
 * {@code media/<backup id>/<bucket>/<key>} (FORMAT.md §10), and writes one manifest record per
 * object.
 *
 * <p>The bucket's listing (key order, a page at a time) is merged with the parent's
 * {@code media-objects} records (the same order): an object whose key, size and ETag the parent
 * lists is not copied again, its record names the backup that holds the copy; a new or changed
 * one is copied; an object the listing no longer has is dropped. Memory stays flat: no map of
 * all objects, only a window of {@code 4 x parallelism} records in flight, written in order.
 *
 * <p>Copies run {@code parallelism} at a time: server-side (CopyObject, UploadPartCopy above
 * the threshold) when the repository is on the bucket's endpoint, else (or once the store refuses
 * a server-side copy with 403) streamed through the host, hashing the bytes on the way.
 * On any failure the copies this run made are deleted ({@link #rollback()}): nothing half-done
 * remains.
 *
 * <p>With {@code media-encryption} ({@link #encryptWith}) every copy is streamed and stored as one
 * OpenPGP message, each under its own session key; the parent's copy of an unchanged object is
 * reused only when it is encrypted the same way (encrypted or not) as this run's copies.
 */
final class MediaCopier implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MediaCopier.class);
    /** Copies in flight by default ({@code media-copy-parallelism}). */
    static final int DEFAULT_PARALLELISM = 8;
    /** Above this, a server-side copy is a multipart UploadPartCopy (S3's CopyObject limit). */
    static final long DEFAULT_MULTIPART_THRESHOLD = 5L * 1024 * 1024 * 1024;
    private static final long REPORT_EVERY = 10_000;

    private final Repository repo;
    private final String id;
    private final int parallelism;
    private final long multipartThreshold;
    private final Progress progress;
    private final ExecutorService pool;
    /** A new Encryptor for each copy (media-encryption), or null: copies stored as they are. */
    private java.util.function.Supplier<dev.synapsebackup.crypto.Encryptor> encryption;
    private final AtomicBoolean serverSideDenied = new AtomicBoolean();
    private final AtomicLong copiedServerSide = new AtomicLong();
    private final AtomicLong streamed = new AtomicLong();
    private final AtomicLong copiedBytes = new AtomicLong();
    private long objects;
    private long bytes;
    private boolean wroteAny;

    /**
     * @param repo               the repository
     * @param id                 the backup being made (the holder of what is copied)
     * @param parallelism        copies in flight
     * @param multipartThreshold larger objects are copied server-side in parts
     * @param progress           told the phase and the bytes copied
     */
    MediaCopier(Repository repo, String id, int parallelism, long multipartThreshold, Progress progress) {
        this.repo = repo;
        this.id = id;
        this.parallelism = Math.max(1, parallelism);
        this.multipartThreshold = multipartThreshold;
        this.progress = progress;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(this.parallelism, r -> {
            Thread t = new Thread(r, "media-copy-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Stores every copy as an OpenPGP message made by an Encryptor from {@code encryptors}, asked
     * once per object (a passphrase-scheme Encryptor serves one message only).
     */
    MediaCopier encryptWith(java.util.function.Supplier<dev.synapsebackup.crypto.Encryptor> encryptors) {
        this.encryption = encryptors;
        return this;
    }

    /** The manifest's {@code media-stores} for these providers, in record order. */
    static List<MediaStore> stores(List<S3MediaProvider> providers, boolean includeRemoteMedia) {
        List<MediaStore> stores = new ArrayList<>();
        for (S3MediaProvider p : ordered(providers)) {
            stores.add(new MediaStore(p.index(), p.endpoint(), p.region(), p.bucket(), p.prefix(),
                    p.keyPrefixes(includeRemoteMedia)));
        }
        return stores;
    }

    /** Providers in record order: by bucket name followed by {@code /}, in key order. */
    static List<S3MediaProvider> ordered(List<S3MediaProvider> providers) {
        return providers.stream().sorted(Comparator.comparing(p -> p.bucket() + "/", MediaObject.KEY_ORDER)).toList();
    }

    /**
     * Copies what changed since {@code parent} (null: everything) of every store and writes the
     * records to {@code manifest}, whose media section this begins.
     */
    void copy(List<MediaStore> stores, List<S3MediaBucket> buckets, Parent parent, Manifest.Writer manifest)
            throws IOException {
        manifest.beginMedia();
        for (int i = 0; i < stores.size(); i++) {
            MediaStore store = stores.get(i);
            S3MediaBucket bucket = buckets.get(i);
            progress.start("copying media from " + store.location(), -1);
            boolean serverSide = encryption == null && repo instanceof S3Repository s3 && s3.sameEndpointAs(bucket);
            LOG.info("media of {}: copied {} into {}", store.location(), serverSide ? "server-side"
                    : encryption != null ? "through this host, encrypted" : "through this host", repo.location());
            try (ParentRecords previous = ParentRecords.of(parent, store)) {
                copyStore(store, bucket, serverSide, previous, manifest);
            }
            progress.finish();
        }
        progress.start(String.format(java.util.Locale.ROOT, "media: %d objects (%.1f MB); %d copied server-side,"
                + " %d streamed (%.1f MB)", objects, bytes / 1e6, copiedServerSide.get(), streamed.get(),
                copiedBytes.get() / 1e6), -1);
        LOG.info("media: {} objects ({} bytes) listed; {} copied server-side, {} streamed ({} bytes)",
                objects, bytes, copiedServerSide.get(), streamed.get(), copiedBytes.get());
    }

    private void copyStore(MediaStore store, S3MediaBucket bucket, boolean serverSide, ParentRecords previous,
            Manifest.Writer manifest) throws IOException {
        Deque<Future<MediaObject>> window = new ArrayDeque<>();
        int maxWindow = parallelism * 4;
        for (String keyPrefix : store.keyPrefixes()) {
            Iterator<StoredObject> listing = bucket.list(keyPrefix);
            while (listing.hasNext()) {
                StoredObject o = listing.next();
                MediaObject old = previous.find(o.key());
                if (old != null && old.size() == o.size() && old.eTag() != null && old.eTag().equals(o.eTag())
                        && old.encrypted() == (encryption != null)) {
                    window.add(CompletableFuture.completedFuture(
                            new MediaObject(store.index(), store.bucket(), o.key(), o.size(), o.eTag(),
                                    old.storedETag(), old.sha256(), old.backup(), old.encrypted(), old.storedSize())));
                } else {
                    wroteAny = true;
                    window.add(pool.submit(() -> copyOne(store, bucket, o, serverSide)));
                }
                while (window.size() > maxWindow) {
                    write(window.poll(), manifest);
                }
            }
        }
        while (!window.isEmpty()) {
            write(window.poll(), manifest);
        }
    }

    private void write(Future<MediaObject> f, Manifest.Writer manifest) throws IOException {
        MediaObject m = Tasks.await(f, "copying media");
        if (m == null) {
            return; // deleted after it was listed
        }
        manifest.mediaObject(m);
        if (m.backup().equals(id)) {
            progress.advance(m.size()); // on the calling thread, as Progress expects
        }
        objects++;
        bytes += m.size();
        if (objects % REPORT_EVERY == 0) {
            // A line per 10,000 objects: how far the listing got and what had to be copied.
            progress.start(String.format(java.util.Locale.ROOT, "media: %d objects (%.1f MB) so far, %d copied (%.1f MB)",
                    objects, bytes / 1e6, copiedServerSide.get() + streamed.get(), copiedBytes.get() / 1e6), -1);
        }
    }

    private MediaObject copyOne(MediaStore store, S3MediaBucket bucket, StoredObject o, boolean serverSide)
            throws IOException {
        String target = MediaObject.repositoryKey(id, store.bucket(), o.key());
        if (serverSide && !serverSideDenied.get()) {
            try {
                String stored = ((S3Repository) repo).copyFrom(bucket, o.key(), o.size(), target, multipartThreshold);
                copiedServerSide.incrementAndGet();
                copied(o.size());
                return new MediaObject(store.index(), store.bucket(), o.key(), o.size(), o.eTag(), stored, null, id);
            } catch (IOException e) {
                if (!S3Repository.isAccessDenied(e)) {
                    throw e;
                }
                if (serverSideDenied.compareAndSet(false, true)) {
                    LOG.warn("the repository's credentials cannot copy from {} server-side ({}): streaming"
                            + " the media through this host instead", store.location(), e.getMessage());
                }
            }
        }
        MessageDigest digest = Sha256.newDigest();
        long n;
        long stored = -1;
        String eTag = o.eTag();
        // Asked before the download starts: deriving a passphrase key takes a while.
        dev.synapsebackup.crypto.Encryptor encryptor = encryption == null ? null : encryption.get();
        try (InputStream raw = bucket.open(o.key());
             ObjectWriter w = repo.create(target, o.size(), Map.of())) {
            if (raw instanceof software.amazon.awssdk.core.ResponseInputStream<?> r
                    && r.response() instanceof software.amazon.awssdk.services.s3.model.GetObjectResponse g
                    && g.eTag() != null) {
                eTag = g.eTag().replace("\"", ""); // what was read, should the object have changed since the listing
            }
            InputStream in = new DigestInputStream(raw, digest);
            if (encryptor == null) {
                n = in.transferTo(w);
            } else {
                CountingOutputStream counted = new CountingOutputStream(w);
                try (java.io.OutputStream enc = encryptor.encrypt(counted, UnaryOperator.identity())) {
                    n = in.transferTo(enc);
                }
                stored = counted.count();
            }
            w.commit();
        } catch (FileNotFoundException e) {
            LOG.info("media object s3://{}/{} was deleted while the backup ran: left out", store.bucket(), o.key());
            return null;
        }
        streamed.incrementAndGet();
        copied(n);
        return new MediaObject(store.index(), store.bucket(), o.key(), n, eTag, null, Sha256.hex(digest.digest()), id,
                encryptor != null, stored);
    }

    private void copied(long size) {
        copiedBytes.addAndGet(size);
    }

    /** Objects copied server-side so far. */
    long copiedServerSide() {
        return copiedServerSide.get();
    }

    /** Objects streamed through the host so far. */
    long streamed() {
        return streamed.get();
    }

    /** Objects the manifest lists, and their bytes. */
    long objects() {
        return objects;
    }

    long bytes() {
        return bytes;
    }

    /**
     * Removes the media copies that runs killed before they could clean up left behind: those of
     * a holder with no data object that is newer than the newest complete backup (a killed run is
     * always newer than the backups it saw; copies of an older, deleted backup may still be listed
     * by a kept one, and are left alone). Run under the repository lock; failures are only logged.
     */
    static void removeOrphans(Repository repo, List<dev.synapsebackup.repository.BackupEntry> entries) {
        try {
            java.util.Set<String> ids = new java.util.HashSet<>();
            String newestComplete = null;
            for (var e : entries) {
                ids.add(e.id());
                if (e.status() == dev.synapsebackup.repository.BackupEntry.Status.COMPLETE
                        && (newestComplete == null || e.id().compareTo(newestComplete) > 0)) {
                    newestComplete = e.id();
                }
            }
            for (String dir : repo.listDirectories(MediaObject.MEDIA_PREFIX)) {
                String holder = dir.substring(0, dir.length() - 1);
                if (!dev.synapsebackup.repository.BackupId.isBackupName(holder) || ids.contains(holder)
                        || (newestComplete != null && holder.compareTo(newestComplete) <= 0)) {
                    continue;
                }
                long n = ((AbstractRepository) repo).deleteUnder(MediaObject.holderPrefix(holder));
                LOG.info("removed {} media copies of the interrupted run {} from {}", n, holder, repo.location());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot clean up media copies of interrupted runs in {}: {}", repo.location(), e.getMessage());
        }
    }

    /**
     * Stops the copies in flight (each aborts its own multipart upload) and deletes every copy
     * this run made: all of {@code media/<id>/}, which only this run writes.
     */
    void rollback() {
        stopCopies();
        if (!wroteAny) {
            return;
        }
        boolean interrupted = Thread.interrupted(); // the S3 client starts no request on an interrupted thread
        try {
            long n = ((AbstractRepository) repo).deleteUnder(MediaObject.holderPrefix(id));
            LOG.info("removed the {} media copies of this failed run from {}", n, repo.location());
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot remove the media copies of this failed run from {}/{}: {}", repo.location(),
                    MediaObject.holderPrefix(id), e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void stopCopies() {
        pool.shutdownNow();
        try {
            if (!pool.awaitTermination(2, TimeUnit.MINUTES)) {
                LOG.warn("media copies still running after 2 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }

    /** The parent's records of one store, read in step with the listing. */
    private static final class ParentRecords implements AutoCloseable {
        private final Manifest.FileIterator files;
        private final Iterator<MediaObject> it;
        private final int store;
        private MediaObject next;

        private ParentRecords(Manifest.FileIterator files, Iterator<MediaObject> it, int store) {
            this.files = files;
            this.it = it;
            this.store = store;
            advance();
        }

        static ParentRecords of(Parent parent, MediaStore store) {
            if (parent == null) {
                return new ParentRecords(null, java.util.Collections.emptyIterator(), -1);
            }
            MediaStore match = parent.summary().media().stores().stream()
                    .filter(s -> s.bucket().equals(store.bucket()) && java.util.Objects.equals(s.endpoint(), store.endpoint()))
                    .findFirst().orElse(null);
            if (match == null) {
                return new ParentRecords(null, java.util.Collections.emptyIterator(), -1);
            }
            Manifest.FileIterator files = Manifest.files(parent.manifestFile());
            while (files.hasNext()) {
                files.next(); // the file records come first
            }
            return new ParentRecords(files, files.media(), match.index());
        }

        private void advance() {
            next = null;
            while (it.hasNext()) {
                MediaObject m = it.next();
                if (m.store() == store) {
                    next = m;
                    return;
                }
            }
        }

        /** The parent's record of {@code key}, or null; records before it are passed (deleted since). */
        MediaObject find(String key) {
            while (next != null && MediaObject.KEY_ORDER.compare(next.key(), key) < 0) {
                advance();
            }
            if (next != null && next.key().equals(key)) {
                MediaObject m = next;
                advance();
                return m;
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            if (files != null) {
                files.close();
            }
        }
    }
}
