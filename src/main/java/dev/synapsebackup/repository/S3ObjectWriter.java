package dev.synapsebackup.repository;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * A streaming write to S3: a single PutObject for objects smaller than one part, else a
 * multipart upload with up to {@link Uploads#partsInFlight} parts in flight.
 *
 * <p>Memory: at most {@code partsInFlight + 1} part buffers exist (the one being filled plus those
 * uploading); buffers are reused, and {@link #write} blocks until one is free. The list of
 * completed parts (at most 10,000 part numbers and ETags) is the only state that grows.
 *
 * <p>Part sizes: every part has the size chosen from the expected size until the stream has
 * outgrown that estimate (or from the start, when the size was unknown); from then on the part
 * size doubles every 800 parts, up to {@link #MAX_BUFFER_SIZE}, so that 10,000 parts
 * hold far more than the estimate (S3's 5 TiB maximum starting from 16 MiB). The price is memory:
 * late parts of a huge stream of unknown size use buffers of up to 1 GiB each.
 *
 * <p>Not thread-safe: one thread writes, commits or aborts. All it uses of its repository is the
 * {@link S3Bucket} and the {@link Uploads} the repository's writers share.
 */
final class S3ObjectWriter extends ObjectWriter {
    private static final Logger LOG = LoggerFactory.getLogger(S3ObjectWriter.class);
    private static final String OCTET_STREAM = "application/octet-stream";
    private static final int PARTS_PER_DOUBLING = 800;
    /** S3's limit on the number of parts of one object. */
    static final int MAX_PARTS = 10_000;
    /**
     * Largest part buffer: Java arrays stop short of 2 GiB, and {@code partsInFlight + 1} of them
     * must fit in the heap.
     */
    static final long MAX_BUFFER_SIZE = 1024L * 1024 * 1024;

    /**
     * What the writers of one repository share.
     *
     * @param executor      runs the part uploads
     * @param parallelism   how many parts of one object upload at once; 0: {@link #partsInFlight}
     *                      chooses by the part size
     * @param abortPatience how long an abort keeps trying to reach the store
     * @param maxHeap       the JVM's heap ({@code Runtime.maxMemory()}; smaller in tests), which
     *                      bounds the part buffers of an automatic parallelism
     */
    record Uploads(ExecutorService executor, int parallelism, Duration abortPatience, long maxHeap) {
        /**
         * The part buffers a writer may fill beside the one being filled when the parallelism is
         * automatic. One S3 stream across a WAN carries tens of MB/s, so an upload there is as
         * fast as the parts in flight; seven parts of 5 MiB take what four of 8 MiB took
         * (bench/results/2026-12-02-i19-parallelism.md).
         */
        static final long BUFFER_BUDGET = 40L * 1024 * 1024;
        /** Automatic parallelism goes no lower for parts larger than the budget allows, unless the heap share is smaller. */
        static final int MIN_AUTOMATIC_PARALLELISM = 4;
        /** The most parts the automatic parallelism uploads at once (those of S3's smallest size). */
        static final int MAX_AUTOMATIC_PARALLELISM = (int) (BUFFER_BUDGET / S3Repository.MIN_PART_SIZE) - 1;

        /**
         * The share of the JVM's heap that the part buffers of an automatic parallelism may take:
         * the parts of a large object are large (10,000 parts at most), and the launcher's heap is
         * small (200 MiB), so for the largest objects fewer parts fly, and past that the upload
         * stops before its first part with an error that says what heap it needs. Per object: a
         * create's streamed media copies (MediaCopier) have buffers of their own.
         */
        static final double HEAP_SHARE = 0.5;

        /** How many parts of {@code partSize} bytes upload at once. */
        int partsInFlight(long partSize) {
            if (parallelism > 0) {
                return parallelism;
            }
            long byBudget = Math.max(MIN_AUTOMATIC_PARALLELISM, Math.min(MAX_AUTOMATIC_PARALLELISM, BUFFER_BUDGET / partSize - 1));
            long byHeap = heapBuffers(partSize) - 1;
            return (int) Math.max(1, Math.min(byBudget, byHeap));
        }

        /**
         * Fails an automatic upload whose part size leaves no room for two buffers (the one being
         * filled and one uploading) in the heap share: the JVM would otherwise run out of memory at
         * the second part. Checked before the first part (an object smaller than one part needs one
         * buffer only) and whenever the parts grow. The heap it asks for has room for the young
         * generation's survivor space, which {@code maxMemory} leaves out.
         */
        void checkHeap(String key, long partSize) throws IOException {
            if (parallelism == 0 && heapBuffers(partSize) < 2) {
                long mib = 1024 * 1024;
                throw new IOException("cannot upload " + key + ": its size needs parts of " + partSize / mib
                        + " MiB (S3 allows 10,000 parts), and two part buffers need more than half of the JVM's heap of "
                        + maxHeap / mib + " MiB; give the JVM a heap of at least " + (9 * partSize / mib / 2 + 64)
                        + " MiB (-Xmx in SYNAPSE_BACKUP_JAVA_OPTS)");
            }
        }

        private long heapBuffers(long partSize) {
            return (long) (maxHeap * HEAP_SHARE) / partSize;
        }
    }

    private enum State { OPEN, COMMITTED, ABORTED }

    private final S3Bucket bucket;
    private final Uploads uploads;
    private final String key;
    private final String fullKey;
    private final long basePartSize;
    private final long expectedSize;
    private final Map<String, String> metadata;
    /** Part buffers at most: lowered, never raised, when the parts grow (Uploads#partsInFlight). */
    private int maxBuffers;
    private final S3ObjectLock objectLock;
    /** The retain-until date of this object (Object Lock), or null when it is not retained. */
    private final Instant retainUntil;

    private State state = State.OPEN;
    private byte[] current;
    private int length;
    private long currentPartSize;
    private long written;
    /** First part number written after the estimate was exceeded; 1 if the size was unknown. */
    private int overrunStartPart;
    private int nextPartNumber = 1;
    private String uploadId;
    private int allocatedBuffers;
    private int peakBuffers = 1;

    /** Guards the fields below, shared with upload threads. */
    private final Object lock = new Object();
    private final ArrayDeque<byte[]> freeBuffers = new ArrayDeque<>();
    private final List<CompletedPart> completedParts = new ArrayList<>();
    private final Set<Thread> uploadThreads = new HashSet<>();
    private int running;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    /**
     * A write of {@code key} with parts of {@code partSize} bytes (at first) for an object of
     * {@code expectedSize} bytes (-1: unknown).
     */
    S3ObjectWriter(S3Bucket bucket, Uploads uploads, String key, long partSize, long expectedSize,
            Map<String, String> metadata, S3ObjectLock objectLock) {
        this.bucket = bucket;
        this.objectLock = objectLock;
        // Computed when the upload starts, as the config promises: retained for `retain` from now.
        this.retainUntil = objectLock.retainUntilForUpload(key).orElse(null);
        this.uploads = uploads;
        this.key = key;
        this.fullKey = bucket.fullKey(key);
        this.metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        this.maxBuffers = uploads.partsInFlight(partSize) + 1;
        this.basePartSize = partSize;
        this.currentPartSize = partSize;
        this.expectedSize = expectedSize;
        this.overrunStartPart = expectedSize < 0 ? 1 : 0;
        // Small objects (manifests, locks) should not cost a whole part buffer, nor an incremental
        // of a large server (expected at the server's size) a whole large part before it has one:
        // the first buffer starts at the expected size, at most 1 MiB, and grows up to a part.
        long initial = expectedSize < 0 ? 64 * 1024 : Math.min(1024 * 1024, Math.max(1024, expectedSize + 1));
        this.current = new byte[(int) Math.min(partSize, initial)];
        this.allocatedBuffers = 1;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        ensureOpen();
        try {
            while (len > 0) {
                if (length == current.length) {
                    if (current.length < currentPartSize) {
                        current = Arrays.copyOf(current, (int) Math.min(currentPartSize, 2L * current.length));
                    } else {
                        dispatchCurrentPart();
                    }
                }
                int n = Math.min(len, current.length - length);
                System.arraycopy(b, off, current, length, n);
                length += n;
                written += n;
                off += n;
                len -= n;
            }
        } catch (IOException | RuntimeException | Error e) {
            abort();
            throw e;
        }
    }

    private void ensureOpen() throws IOException {
        if (state != State.OPEN) {
            throw new IOException("write to s3 object " + key + " already " + state.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    private void checkHealthy() throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("upload of " + key + " interrupted");
        }
        Throwable t = failure.get();
        if (t != null) {
            if (t instanceof SdkException se) {
                throw bucket.errors().failure("upload", key, se);
            }
            throw new IOException("cannot upload " + key + ": " + t, t);
        }
    }

    /** Sends the full current buffer as the next part and gets a buffer for the one after. */
    private void dispatchCurrentPart() throws IOException {
        checkHealthy();
        if (uploadId == null) {
            uploads.checkHeap(key, currentPartSize); // before anything is stored
            try {
                uploadId = bucket.client().createMultipartUpload(r -> {
                    r.bucket(bucket.name()).key(fullKey).metadata(metadata).contentType(OCTET_STREAM);
                    if (retainUntil != null) {
                        r.objectLockMode(objectLock.headerMode()).objectLockRetainUntilDate(retainUntil);
                    }
                }).uploadId();
            } catch (SdkException e) {
                throw bucket.errors().failure("start upload of", key, e);
            }
        }
        int partNumber = nextPartNumber++;
        if (partNumber > MAX_PARTS) {
            throw new IOException("cannot upload " + key + ": more than " + MAX_PARTS + " parts of up to "
                    + currentPartSize + " bytes");
        }
        byte[] buffer = current;
        int size = length;
        current = null;
        length = 0;
        synchronized (lock) {
            running++;
            try {
                uploads.executor().execute(() -> uploadPart(partNumber, buffer, size));
            } catch (RuntimeException e) {
                running--;
                throw e;
            }
        }
        if (expectedSize >= 0 && overrunStartPart == 0 && written > expectedSize) {
            overrunStartPart = nextPartNumber;
        }
        long next = Math.max(currentPartSize, partSize(basePartSize, nextPartNumber, overrunStartPart));
        if (next != currentPartSize) {
            // Larger parts: fewer of them at once, so that the buffers stay within the heap share.
            uploads.checkHeap(key, next);
            currentPartSize = next;
            maxBuffers = Math.min(maxBuffers, uploads.partsInFlight(next) + 1);
        }
        current = takeBuffer();
    }

    /**
     * The size of part {@code partNumber}: {@code base} until the estimate was exceeded (at part
     * {@code overrunStartPart}, 0 if it never was), then doubling every 800 parts up to
     * {@link #MAX_BUFFER_SIZE}.
     */
    static long partSize(long base, int partNumber, int overrunStartPart) {
        if (overrunStartPart <= 0 || partNumber < overrunStartPart) {
            return base;
        }
        int doublings = (partNumber - overrunStartPart) / PARTS_PER_DOUBLING;
        return Math.min(base << Math.min(doublings, 20), Math.max(base, MAX_BUFFER_SIZE));
    }

    /** The most part buffers this writer has held at once (for tests). */
    int peakBuffers() {
        synchronized (lock) {
            return peakBuffers;
        }
    }

    private void uploadPart(int partNumber, byte[] buffer, int size) {
        try {
            synchronized (lock) {
                // Registered under the lock, so that abort() either sees this thread or this
                // thread sees abort()'s failure.
                uploadThreads.add(Thread.currentThread());
                if (failure.get() != null) {
                    return;
                }
            }
            // S3 refuses a part of an upload with Object Lock parameters without Content-MD5 (or a checksum).
            String md5 = objectLock.contentMd5() ? S3ObjectLock.md5(buffer, 0, size) : null;
            UploadPartResponse r = bucket.client().uploadPart(p -> p.bucket(bucket.name()).key(fullKey)
                    .uploadId(uploadId).partNumber(partNumber).contentLength((long) size).contentMD5(md5),
                    RequestBody.fromContentProvider(() -> new ByteArrayInputStream(buffer, 0, size), size, OCTET_STREAM));
            synchronized (lock) {
                completedParts.add(CompletedPart.builder().partNumber(partNumber).eTag(r.eTag()).build());
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        } finally {
            synchronized (lock) {
                uploadThreads.remove(Thread.currentThread());
                freeBuffers.add(buffer);
                running--;
                lock.notifyAll();
            }
        }
    }

    /** A buffer of the current part size; blocks while {@code maxBuffers} buffers exist and none is free. */
    private byte[] takeBuffer() throws IOException {
        synchronized (lock) {
            while (true) {
                byte[] b = freeBuffers.poll();
                if (b != null && b.length >= currentPartSize) {
                    return b;
                }
                if (b != null) {
                    allocatedBuffers--; // of an outgrown part size: dropped
                    continue;
                }
                if (allocatedBuffers < maxBuffers) {
                    allocatedBuffers++;
                    peakBuffers = Math.max(peakBuffers, allocatedBuffers);
                    break;
                }
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("upload of " + key + " interrupted");
                }
            }
        }
        checkHealthy();
        return new byte[(int) currentPartSize];
    }

    /** Waits until no part upload is running; with {@code interruptible} false, ignores interrupts. */
    private void awaitUploads(boolean interruptible) throws InterruptedIOException {
        boolean interrupted = false;
        synchronized (lock) {
            while (running > 0) {
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    if (interruptible) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("upload of " + key + " interrupted");
                    }
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public ObjectInfo commit() throws IOException {
        ensureOpen();
        try {
            if (uploadId == null) {
                checkHealthy();
                byte[] body = current;
                int size = length;
                String md5 = objectLock.contentMd5() ? S3ObjectLock.md5(body, 0, size) : null;
                try {
                    bucket.client().putObject(r -> {
                        r.bucket(bucket.name()).key(fullKey).metadata(metadata)
                                .contentType(OCTET_STREAM).contentLength((long) size).contentMD5(md5);
                        if (retainUntil != null) {
                            r.objectLockMode(objectLock.headerMode()).objectLockRetainUntilDate(retainUntil);
                        }
                    },
                            RequestBody.fromContentProvider(() -> new ByteArrayInputStream(body, 0, size), size,
                                    OCTET_STREAM));
                } catch (SdkException e) {
                    throw bucket.errors().failure("write", key, e);
                }
            } else {
                dispatchLastPart();
                awaitUploads(true);
                checkHealthy();
                List<CompletedPart> parts;
                synchronized (lock) {
                    parts = new ArrayList<>(completedParts);
                }
                parts.sort(Comparator.comparing(CompletedPart::partNumber));
                if (parts.size() != nextPartNumber - 1) {
                    throw new IOException("cannot upload " + key + ": " + parts.size() + " of "
                            + (nextPartNumber - 1) + " parts stored");
                }
                try {
                    bucket.client().completeMultipartUpload(r -> r.bucket(bucket.name()).key(fullKey)
                            .uploadId(uploadId).multipartUpload(m -> m.parts(parts)));
                } catch (SdkException e) {
                    throw bucket.errors().failure("complete upload of", key, e);
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            abort();
            throw e;
        }
        state = State.COMMITTED;
        releaseBuffers();
        if (retainUntil != null) {
            // The object exists now whatever this finds: a failure here leaves it without the
            // retention, and the run fails (a data object without manifest is an unfinished backup).
            objectLock.ensureRetained(key, retainUntil);
        }
        return new ObjectInfo(key, written, Instant.now(), metadata);
    }

    private void dispatchLastPart() throws IOException {
        checkHealthy();
        int partNumber = nextPartNumber++;
        if (partNumber > MAX_PARTS) {
            throw new IOException("cannot upload " + key + ": more than " + MAX_PARTS + " parts");
        }
        byte[] buffer = current;
        int size = length;
        current = null;
        synchronized (lock) {
            running++;
        }
        // The committing thread uploads the last part itself; nothing else is left to do.
        uploadPart(partNumber, buffer, size);
    }

    @Override
    public void abort() {
        if (state != State.OPEN) {
            return;
        }
        state = State.ABORTED;
        failure.compareAndSet(null, new IOException("upload of " + key + " aborted"));
        synchronized (lock) {
            for (Thread t : uploadThreads) {
                if (t != Thread.currentThread()) {
                    t.interrupt(); // the SDK aborts the part's request
                }
            }
        }
        // Parts still uploading could otherwise be stored after the abort and linger as orphans.
        boolean wasInterrupted = Thread.interrupted();
        try {
            try {
                awaitUploads(false);
            } catch (InterruptedIOException e) {
                throw new AssertionError(e); // not interruptible
            }
            wasInterrupted |= Thread.interrupted(); // the SDK refuses to start requests on an interrupted thread
            if (uploadId != null) {
                abortUpload();
            }
        } finally {
            releaseBuffers();
            if (wasInterrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Aborts the multipart upload. A part whose request was cut off by the abort may still be
     * stored by the server afterwards (S3 documents this), so check that the upload is gone and
     * abort again if it is not. When the store cannot be reached (the very failure that ended
     * the upload, often), keep trying with growing pauses for {@link Uploads#abortPatience}: a short
     * outage must not leave orphaned parts behind.
     */
    private void abortUpload() {
        long deadline = System.nanoTime() + uploads.abortPatience().toNanos();
        long pauseMillis = 200;
        while (true) {
            boolean reached = true;
            try {
                bucket.client().abortMultipartUpload(r -> r.bucket(bucket.name()).key(fullKey).uploadId(uploadId));
            } catch (SdkException e) {
                reached = S3Errors.isNotFound(e);
                if (!reached) {
                    LOG.debug("abort of the multipart upload of {} failed, will retry: {}", fullKey, e.getMessage());
                }
            }
            if (reached) {
                try {
                    // ListParts of an aborted upload is 404 on AWS but an empty 200 on some stores;
                    // the list of uploads is the same everywhere.
                    boolean stillThere = bucket.client().listMultipartUploads(r -> r.bucket(bucket.name()).prefix(fullKey))
                            .uploads().stream().anyMatch(u -> uploadId.equals(u.uploadId()));
                    if (!stillThere) {
                        return;
                    }
                } catch (SdkException e) {
                    LOG.debug("cannot check the abort of {}: {}", fullKey, e.getMessage());
                }
            }
            if (System.nanoTime() + pauseMillis * 1_000_000L > deadline) {
                break;
            }
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            pauseMillis = Math.min(pauseMillis * 2, 5000);
        }
        LOG.warn("multipart upload of {} (upload id {}) could not be aborted; the next create removes it", fullKey, uploadId);
    }

    private void releaseBuffers() {
        current = null;
        synchronized (lock) {
            freeBuffers.clear();
        }
    }
}
