package dev.synapsebackup.repository;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.RepositoryAccessException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.S3Parameters;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.hc.client5.http.DnsResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A repository in an S3 bucket (AWS or any S3-compatible store), under the normalised prefix of
 * SPEC §3. Built on the AWS SDK v2 with the Apache HTTP client ({@link S3Clients}).
 *
 * <p>This class is the object store: head, get, put, list and delete of objects. Around it, each
 * in a class of its own: streaming multipart writes ({@link S3ObjectWriter}), downloads that resume
 * after a cut ({@link ResumingDownload}), create-if-absent ({@link ConditionalPut}), the clean-up
 * of interrupted uploads ({@link MultipartCleanup}) and the wording of failures ({@link S3Errors}).
 * The backup-level rules are {@link AbstractRepository}'s.
 *
 * <p>Large objects are written as streaming multipart uploads with several parts in flight (see
 * {@link #create(String, long, Map)}); memory stays bounded by {@code (partsInFlight + 1) x partSize}
 * ({@link S3ObjectWriter.Uploads#partsInFlight}).
 * Large objects are read with several ranged GETs in flight (see {@link #open(String)}); memory
 * stays bounded by {@code (downloadParallelism + 1) x downloadPartSize}.
 *
 * <p>Instances are thread-safe. {@link #close()} releases connections and upload threads.
 */
public final class S3Repository extends AbstractRepository {
    private static final Logger LOG = LoggerFactory.getLogger(S3Repository.class);
    /** Smallest part S3 accepts (except for the last one). */
    static final long MIN_PART_SIZE = 5L * 1024 * 1024;
    /** Largest part S3 accepts. */
    static final long MAX_PART_SIZE = 5L * 1024 * 1024 * 1024;
    /**
     * Default smallest part size chosen for a known size: S3's minimum, so that the most parts
     * upload at once within the writer's buffer budget ({@link S3ObjectWriter.Uploads#partsInFlight}).
     */
    static final long DEFAULT_MIN_PART_SIZE = MIN_PART_SIZE;
    /** Parts that an object of the expected size is planned for, leaving room for overruns. */
    static final int PLANNED_PARTS = 8_000;
    /** System property: default attempts per request. */
    public static final String MAX_ATTEMPTS_PROPERTY = "synapse-backup.s3.max-attempts";
    /** System property: default first retry delay in milliseconds. */
    public static final String RETRY_BASE_DELAY_PROPERTY = "synapse-backup.s3.retry-base-delay-ms";
    /** System property: default longest retry delay in milliseconds. */
    public static final String RETRY_MAX_DELAY_PROPERTY = "synapse-backup.s3.retry-max-delay-ms";
    /** System property: default ranged GETs of one object at once. */
    public static final String DOWNLOAD_PARALLELISM_PROPERTY = "synapse-backup.s3.download-parallelism";
    /** System property: default size of one ranged GET, in KiB. */
    public static final String DOWNLOAD_RANGE_KIB_PROPERTY = "synapse-backup.s3.download-range-kib";
    /** Part size when the object's size is not known in advance. */
    static final long UNKNOWN_SIZE_PART_SIZE = 16L * 1024 * 1024;

    private final S3Parameters parameters;
    private final S3Bucket bucket;
    private final S3Client s3;
    private final S3Errors errors;
    private final long partSizeOverride;
    private final int listPageSize;
    private final int maxAttempts;
    private final BackoffStrategy backoff;
    private final S3ObjectWriter.Uploads uploads;
    private final ParallelRangeDownload.Downloads downloads;
    private final ConditionalPut conditionalPut;
    private final MultipartCleanup cleanup;
    private final S3ObjectLock objectLock;

    private S3Repository(Builder b) {
        this.parameters = b.parameters;
        this.partSizeOverride = b.partSize;
        this.listPageSize = b.listPageSize;
        this.maxAttempts = b.maxAttempts;
        this.backoff = BackoffStrategy.exponentialDelay(b.retryBaseDelay, b.retryMaxDelay);
        // The pool's connections are sized for whichever of uploads and downloads runs more at once.
        int uploadConnections = b.parallelism > 0 ? b.parallelism : S3ObjectWriter.Uploads.MAX_AUTOMATIC_PARALLELISM;
        this.s3 = S3Clients.build(b.parameters, b.dnsResolver, Math.max(uploadConnections, b.downloadParallelism),
                b.maxAttempts, backoff);
        this.errors = new S3Errors(parameters);
        this.bucket = new S3Bucket(s3, parameters.bucket(), parameters.prefix(), errors);
        AtomicInteger threadNumber = new AtomicInteger();
        ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "s3-upload-" + threadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.uploads = new S3ObjectWriter.Uploads(executor, b.parallelism, b.abortPatience, b.maxHeap);
        this.downloads = new ParallelRangeDownload.Downloads(b.downloadParallelism, b.downloadPartSize, b.downloadStreamFirst,
                b.downloadWaitingShare);
        this.objectLock = new S3ObjectLock(bucket, parameters.objectLock().orElse(null), b.clock);
        this.conditionalPut = new ConditionalPut(bucket, this, objectLock.contentMd5());
        this.cleanup = new MultipartCleanup(bucket);
    }

    /**
     * Initialises the SDK classes that this repository's requests and responses use, without a
     * server: for the launcher's class data sharing training (see {@code train-startup}), which
     * records what a run loads. The model classes' static initialisers spin a lambda per field
     * accessor, which a run against a real store would otherwise spin again.
     */
    public static void initialiseSdkClasses() {
        S3Clients.initialiseSdkClasses();
    }

    /** A builder for a repository described by {@code parameters}. */
    public static Builder builder(S3Parameters parameters) {
        return new Builder(parameters);
    }

    /** The parameters this repository was built from. */
    public S3Parameters parameters() {
        return parameters;
    }

    /** The normalised key prefix ({@code ""} for the bucket's root). */
    public String prefix() {
        return bucket.prefix();
    }

    @Override
    public String location() {
        return parameters.location();
    }

    // ---- access check ----

    /**
     * {@inheritDoc}
     *
     * <p>With virtual-hosted addressing, also lists one key and checks that the listing names
     * the configured bucket: a store that does not serve {@code <bucket>.<host>} answers as if
     * for its root (some with a list of all buckets), which HeadBucket takes for success.
     *
     * @throws dev.synapsebackup.ConfigException (exit 2) if the store does not serve
     *                                           virtual-hosted addressing
     */
    @Override
    public void checkAccess() {
        String name = bucket.name();
        try {
            s3.headBucket(r -> r.bucket(name));
            if (parameters.addressingStyle() == S3Parameters.AddressingStyle.VIRTUAL) {
                ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(name).maxKeys(1)
                        .prefix(bucket.keyPrefix().isEmpty() ? null : bucket.keyPrefix()));
                if (!name.equals(r.name())) {
                    LOG.info("a listing of bucket \"{}\" at {} named {}", name, errors.endpointForMessages(),
                            r.name() == null ? "no bucket" : "\"" + r.name() + "\"");
                    throw new ConfigException("the store does not serve virtual-hosted addressing; set s3-uri-style: path");
                }
            }
        } catch (SdkException e) {
            throw errors.accessFailure(e);
        }
        if (parameters.objectLock().isPresent()) {
            // Retention is configured: a bucket that cannot hold it would keep backups unprotected.
            S3ObjectLock.BucketLock lock = bucketObjectLock();
            if (!lock.enabled()) {
                throw new ConfigException("\"s3.object-lock\" is set but " + lock.detail()
                        + ": use a bucket created with Object Lock enabled, or remove \"s3.object-lock\"");
            }
        }
    }

    private S3ObjectLock.BucketLock bucketObjectLock() {
        try {
            return objectLock.bucketLock();
        } catch (IOException e) {
            if (e instanceof InterruptedIOException) {
                throw new SynapseBackupException(SynapseBackupException.INTERRUPTED,
                        "interrupted while checking bucket " + bucket.name());
            }
            throw new RepositoryAccessException(e.getMessage(), e);
        }
    }

    /**
     * Whether the bucket has S3 Object Lock enabled, in words ({@code check} reports it), and
     * whether it is: {@code true}, {@code false}.
     *
     * @throws dev.synapsebackup.RepositoryAccessException if the store does not answer
     */
    public Map.Entry<Boolean, String> objectLockStatus() {
        S3ObjectLock.BucketLock lock = bucketObjectLock();
        return Map.entry(lock.enabled(), lock.detail());
    }

    // ---- object level ----

    /**
     * Whether objects of {@code media} can be copied into this repository server-side: both are
     * on the same endpoint (whether this repository's credentials may read the media bucket shows
     * only when a copy is tried; see {@link #copyFrom}).
     */
    public boolean sameEndpointAs(S3MediaBucket media) {
        return S3MediaBucket.endpointIdentity(parameters).equals(media.endpointIdentity());
    }

    /**
     * Copies {@code sourceKey} of {@code media} ({@code size} bytes) to {@code key} server-side
     * (CopyObject; above {@code multipartThreshold} a multipart UploadPartCopy, aborted on failure).
     *
     * @return the copy's ETag
     * @throws IOException the copy failed; {@link #isAccessDenied(IOException)} tells whether the
     *                     store refused it, in which case the bytes can still be streamed
     */
    public String copyFrom(S3MediaBucket media, String sourceKey, long size, String key, long multipartThreshold)
            throws IOException {
        return new ServerSideCopy(bucket, objectLock).copy(media.name(), sourceKey, size, key, multipartThreshold);
    }

    /** Whether {@code e}, from {@link #copyFrom}, is the store refusing access. */
    public static boolean isAccessDenied(IOException e) {
        return e instanceof ServerSideCopy.AccessDenied;
    }

    /** Cleared when the store answers DeleteObjects with 501 (or does not know it). */
    private volatile boolean multiDelete = true;

    @Override
    public void deleteObjects(List<String> keys) throws IOException {
        if (keys.isEmpty()) {
            return;
        }
        if (multiDelete) {
            try {
                var r = s3.deleteObjects(b -> b.bucket(bucket.name()).delete(d -> d.quiet(true).objects(
                        keys.stream().map(k -> software.amazon.awssdk.services.s3.model.ObjectIdentifier.builder()
                                .key(bucket.fullKey(k)).build()).toList())));
                if (r.hasErrors() && !r.errors().isEmpty()) {
                    var e = r.errors().get(0);
                    throw new IOException("cannot delete " + e.key() + " from " + location() + ": " + e.code() + " "
                            + e.message() + (r.errors().size() > 1 ? " (and " + (r.errors().size() - 1) + " more)" : ""));
                }
                return;
            } catch (SdkException e) {
                // A store without DeleteObjects (501), or one that rejects its checksum header (400):
                // one request per object still works there.
                boolean unsupported = S3Errors.isNotImplemented(e) || (e instanceof AwsServiceException se
                        && (se.statusCode() == 400 || se.statusCode() == 405));
                if (!unsupported) {
                    throw errors.failure("delete objects under", "", e);
                }
                multiDelete = false;
                LOG.info("{} does not take DeleteObjects ({}): deleting one object at a time", location(),
                        e.getMessage());
            }
        }
        super.deleteObjects(keys);
    }

    @Override
    public boolean listObjectsSkipping(String subPrefix, Consumer<ObjectInfo> consumer) throws IOException {
        String keyPrefix = bucket.keyPrefix();
        String skip = keyPrefix + subPrefix;
        try {
            // The keys before the skipped range: stop at its first key (no further page is fetched).
            String stoppedAt = null;
            pages:
            for (ListObjectsV2Response page : s3.listObjectsV2Paginator(b -> b.bucket(bucket.name())
                    .maxKeys(listPageSize).prefix(keyPrefix.isEmpty() ? null : keyPrefix))) {
                for (S3Object o : page.contents()) {
                    if (o.key().startsWith(skip) || o.key().compareTo(skip) > 0) {
                        stoppedAt = o.key();
                        break pages;
                    }
                    accept(o, keyPrefix, consumer);
                }
            }
            if (stoppedAt == null) {
                // The listing ended before the skipped range: nothing lies in it or after it.
                return false;
            }
            // Then those after it. A store that ignores start-after lists from the start again:
            // what the first pass saw is passed over by the comparison.
            String after = skip + "\uDBFF\uDFFF\uDBFF\uDFFF";
            for (ListObjectsV2Response page : s3.listObjectsV2Paginator(b -> b.bucket(bucket.name())
                    .maxKeys(listPageSize).prefix(keyPrefix.isEmpty() ? null : keyPrefix).startAfter(after))) {
                for (S3Object o : page.contents()) {
                    if (!o.key().startsWith(skip) && o.key().compareTo(skip) > 0) {
                        accept(o, keyPrefix, consumer);
                    }
                }
            }
            // Keys are listed in order: the first key at or after the range is in it, or the range is empty.
            return stoppedAt.startsWith(skip);
        } catch (SdkException e) {
            throw errors.failureOrAccess("list", "", e);
        }
    }

    private static void accept(S3Object o, String keyPrefix, Consumer<ObjectInfo> consumer) {
        String key = o.key();
        if (!key.startsWith(keyPrefix) || key.length() == keyPrefix.length()) {
            return;
        }
        consumer.accept(new ObjectInfo(key.substring(keyPrefix.length()), o.size() == null ? 0 : o.size(),
                o.lastModified()));
    }

    @Override
    public java.util.SortedSet<String> listDirectories(String subPrefix) throws IOException {
        String keyPrefix = bucket.keyPrefix() + subPrefix;
        java.util.SortedSet<String> dirs = new java.util.TreeSet<>();
        try {
            for (var p : s3.listObjectsV2Paginator(b -> b.bucket(bucket.name()).maxKeys(listPageSize)
                    .prefix(keyPrefix).delimiter("/")).commonPrefixes()) {
                dirs.add(p.prefix().substring(keyPrefix.length()));
            }
        } catch (SdkException e) {
            throw errors.failureOrAccess("list", subPrefix, e);
        }
        return dirs;
    }

    @Override
    public void listStored(String subPrefix, Consumer<StoredObject> consumer) throws IOException {
        String keyPrefix = bucket.keyPrefix() + subPrefix;
        try {
            for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket.name()).maxKeys(listPageSize)
                    .prefix(keyPrefix.isEmpty() ? null : keyPrefix)).contents()) {
                consumer.accept(new StoredObject(o.key().substring(bucket.keyPrefix().length()),
                        o.size() == null ? 0 : o.size(), StoredObject.unquote(o.eTag())));
            }
        } catch (SdkException e) {
            throw errors.failureOrAccess("list", subPrefix, e);
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        HeadObjectResponse r;
        try {
            r = s3.headObject(b -> b.bucket(bucket.name()).key(bucket.fullKey(key)));
        } catch (SdkException e) {
            if (S3Errors.isNotFound(e) && !S3Errors.isNoSuchBucket(e)) {
                return Optional.empty();
            }
            // Denied or no bucket: the repository cannot be used (exit 3); a network failure stays an IOException.
            throw e instanceof AwsServiceException ? errors.failureOrAccess("stat", key, e) : errors.failure("stat", key, e);
        }
        return Optional.of(new ObjectInfo(key, r.contentLength() == null ? 0 : r.contentLength(),
                r.lastModified(), lowerCase(r.metadata())));
    }

    private static Map<String, String> lowerCase(Map<String, String> metadata) {
        Map<String, String> result = new HashMap<>();
        if (metadata != null) {
            metadata.forEach((k, v) -> result.put(k.toLowerCase(Locale.ROOT), v));
        }
        return result;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A GET cut off mid-stream is resumed with ranged GETs ({@link ResumingDownload}), up to
     * {@code maxAttempts - 1} times in a row without progress in between. A multi-GB restore thus
     * survives a flaky network without starting over. An object larger than one download part is
     * read with up to {@code downloadParallelism} ranged GETs at once ({@link ParallelRangeDownload})
     * once the reader finds the first GET slower than itself, since one S3 stream across a WAN is
     * much slower than the link.
     */
    @Override
    public InputStream open(String key) throws IOException {
        ResumingDownload whole = new ResumingDownload(bucket, key, (from, end, eTag) -> get(key, from, end, eTag),
                maxAttempts, backoff);
        return ParallelRangeDownload.of(whole, downloads);
    }

    /**
     * {@inheritDoc}
     *
     * <p>One GET: its response carries the last-modified time that a HEAD would, and a 404 says
     * the object is absent as a HEAD's would.
     */
    @Override
    public Optional<SmallObject> readSmall(String key, int maxBytes) throws IOException {
        try (ResponseInputStream<GetObjectResponse> in = s3.getObject(b -> b.bucket(bucket.name()).key(bucket.fullKey(key)))) {
            byte[] content = in.readNBytes(maxBytes);
            Long length = in.response().contentLength();
            if (length == null || length > content.length) {
                in.abort(); // not a lock of ours: the rest is not downloaded just to be dropped
            }
            return Optional.of(new SmallObject(content, in.response().lastModified()));
        } catch (SdkException e) {
            if (S3Errors.isNotFound(e) && !S3Errors.isNoSuchBucket(e)) {
                return Optional.empty();
            }
            throw e instanceof AwsServiceException ? errors.failureOrAccess("read", key, e) : errors.failure("read", key, e);
        }
    }

    /**
     * A GET of {@code key}'s bytes from {@code from} to {@code end} (exclusive; -1: to the end), if
     * its ETag is {@code eTag} (null: any).
     */
    private ResponseInputStream<GetObjectResponse> get(String key, long from, long end, String eTag) throws IOException {
        try {
            return s3.getObject(b -> {
                b.bucket(bucket.name()).key(bucket.fullKey(key));
                if (from > 0 || end >= 0) {
                    b.range("bytes=" + from + "-" + (end >= 0 ? Long.toString(end - 1) : ""));
                }
                if (eTag != null) {
                    b.ifMatch(eTag);
                }
            });
        } catch (SdkException e) {
            throw errors.readFailure(key, location(), e);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Asks the store (GetObjectRetention) only in a bucket with Object Lock enabled.
     */
    @Override
    public Optional<Instant> objectRetainedUntil(String key) throws IOException {
        return objectLock.retainedUntil(key);
    }

    @Override
    public void deleteObject(String key) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(bucket.name()).key(bucket.fullKey(key)));
        } catch (SdkException e) {
            if (!S3Errors.isNotFound(e)) {
                throw errors.failure("delete", key, e);
            }
        }
    }

    @Override
    public void listObjects(Consumer<ObjectInfo> consumer) throws IOException {
        String keyPrefix = bucket.keyPrefix();
        ListObjectsV2Request.Builder request = ListObjectsV2Request.builder().bucket(bucket.name()).maxKeys(listPageSize);
        if (!keyPrefix.isEmpty()) {
            request.prefix(keyPrefix);
        }
        try {
            // The paginator fetches the next page only when the previous one has been consumed.
            for (ListObjectsV2Response page : s3.listObjectsV2Paginator(request.build())) {
                for (S3Object o : page.contents()) {
                    String key = o.key();
                    if (!key.startsWith(keyPrefix) || key.length() == keyPrefix.length()) {
                        continue;
                    }
                    consumer.accept(new ObjectInfo(key.substring(keyPrefix.length()),
                            o.size() == null ? 0 : o.size(), o.lastModified()));
                }
            }
        } catch (SdkException e) {
            throw errors.failureOrAccess("list", "", e);
        }
    }

    // ---- interrupted uploads ----

    /**
     * The keys (relative to the prefix) of multipart uploads under the prefix that were started
     * but neither completed nor aborted. A clean repository has none.
     */
    public List<String> incompleteUploads() throws IOException {
        return cleanup.incomplete();
    }

    /**
     * {@inheritDoc}
     *
     * <p>Only uploads of backups and manifests: another program's upload under the prefix is
     * not ours to abort.
     */
    @Override
    public int removeStaleUploads(Duration olderThan) throws IOException {
        return cleanup.removeStale(olderThan);
    }

    /**
     * Aborts every incomplete multipart upload under the prefix: the leftovers of a run whose
     * abort could not reach the store (a network cut, a killed process). Call it only while
     * holding the repository lock, since it also ends uploads that are still in progress.
     *
     * @return how many uploads were aborted
     */
    public int abortIncompleteUploads() throws IOException {
        return cleanup.abortAll();
    }

    // ---- writes ----

    /**
     * {@inheritDoc}
     *
     * <p>Uses {@code If-None-Match: *}. Because some S3-compatible stores answer it with 501 or
     * silently ignore it, the object is first checked for (an existing object is never
     * overwritten by this call; not needed once {@link #supportsConditionalPut()} saw the store
     * refuse a conditional put of an existing key), and after a write that the store may not have made conditional
     * the object is read back: only if it holds {@code content} does this call count as the
     * creator. On such stores two racing callers can in rare cases both see their own content, so
     * callers must put something unique in {@code content} (host, pid, time) and treat the result
     * as best effort there; on AWS S3 and stores that implement conditional writes it is atomic.
     */
    @Override
    public boolean putIfAbsent(String key, byte[] content, Map<String, String> metadata) throws IOException {
        return conditionalPut.putIfAbsent(key, content, metadata);
    }

    /**
     * Checks once per repository that the store honours {@code If-None-Match: *}: a conditional
     * put of a key that exists must be refused (412). The probe uses a key of its own (a top-level
     * name that is no backup, removed again): rewriting the live lock object instead let a racing
     * run read it half-written on a store that does not replace objects atomically (s3rver).
     * Asked before a lock is taken, so that on a store that ignores the condition (it answers 200)
     * every run uses the write-then-list protocol from the start.
     */
    @Override
    public boolean supportsConditionalPut() {
        return conditionalPut.supported();
    }

    /**
     * {@inheritDoc}
     *
     * <p>The part size is {@link #partSizeFor(long)}; up to
     * {@link S3ObjectWriter.Uploads#partsInFlight} parts upload at once while the next one is being filled, and {@code write} blocks while all buffers are
     * in use. An object smaller than one part is sent as a single PutObject on commit. A failure,
     * {@link ObjectWriter#abort()}, close without commit, or interruption of the writing thread
     * aborts the multipart upload so that no object and no stored parts remain.
     */
    @Override
    public ObjectWriter create(String key, long expectedSize, Map<String, String> metadata) throws IOException {
        return new S3ObjectWriter(bucket, uploads, key, partSizeFor(expectedSize), expectedSize, metadata, objectLock);
    }

    /**
     * The first part size for an object of {@code expectedSize} bytes (-1: unknown): the
     * configured part size, or 5 MiB, or 16 MiB for an unknown size, raised so that the expected
     * size fits in {@value #PLANNED_PARTS} parts (leaving room for the estimate to be exceeded).
     */
    long partSizeFor(long expectedSize) {
        long base = partSizeOverride > 0 ? partSizeOverride
                : expectedSize < 0 ? UNKNOWN_SIZE_PART_SIZE : DEFAULT_MIN_PART_SIZE;
        if (expectedSize > 0) {
            long needed = (expectedSize + PLANNED_PARTS - 1) / PLANNED_PARTS;
            long mib = 1024 * 1024;
            needed = (needed + mib - 1) / mib * mib;
            base = Math.max(base, needed);
        }
        return Math.min(base, S3ObjectWriter.MAX_BUFFER_SIZE);
    }

    @Override
    public void close() {
        uploads.executor().shutdownNow();
        try {
            uploads.executor().awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        s3.close();
    }

    @Override
    public String toString() {
        return "S3Repository{" + location() + "}";
    }

    /** Options for {@link S3Repository}; only the parameters are required. */
    public static final class Builder {
        private final S3Parameters parameters;
        private DnsResolver dnsResolver;
        private long partSize;
        private int parallelism; // 0: S3ObjectWriter.Uploads#partsInFlight chooses
        private int downloadParallelism = Integer.getInteger(DOWNLOAD_PARALLELISM_PROPERTY,
                ParallelRangeDownload.DEFAULT_PARALLELISM);
        private long downloadPartSize;
        private boolean downloadStreamFirst = true;
        private double downloadWaitingShare = ParallelRangeDownload.WAITING_SHARE;
        private int listPageSize = 1000;
        private int maxAttempts = Integer.getInteger(MAX_ATTEMPTS_PROPERTY, 5);
        private Duration retryBaseDelay = Duration.ofMillis(
                Long.getLong(RETRY_BASE_DELAY_PROPERTY, 100));
        private Duration retryMaxDelay = Duration.ofMillis(
                Long.getLong(RETRY_MAX_DELAY_PROPERTY, 20_000));
        private Duration abortPatience = Duration.ofSeconds(60);
        private long maxHeap = Runtime.getRuntime().maxMemory();
        private Clock clock = Clock.systemUTC();

        private Builder(S3Parameters parameters) {
            this.parameters = Objects.requireNonNull(parameters, "parameters");
            downloadPartSize(Long.getLong(DOWNLOAD_RANGE_KIB_PROPERTY, ParallelRangeDownload.DEFAULT_PART_SIZE / 1024) * 1024);
        }

        /** "Now" for the retain-until dates of Object Lock (default the system clock). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** Resolves host names for the HTTP client (tests map {@code *.localhost} to loopback). */
        public Builder dnsResolver(DnsResolver resolver) {
            this.dnsResolver = resolver;
            return this;
        }

        /**
         * A fixed smallest part size for multipart uploads (at least 5 MiB); by default it is
         * derived from the expected size. It is still raised when needed to stay under 10,000 parts.
         */
        public Builder partSize(long bytes) {
            this.partSize = inRange(bytes, MIN_PART_SIZE, MAX_PART_SIZE, "part size must be between 5 MiB and 5 GiB");
            return this;
        }

        /**
         * How many parts of one object upload at once; by default as many as the writer's buffer
         * budget holds ({@link S3ObjectWriter.Uploads#partsInFlight}).
         */
        public Builder parallelism(int parts) {
            this.parallelism = (int) inRange(parts, 1, Integer.MAX_VALUE, "parallelism must be at least 1");
            return this;
        }

        /** The heap that bounds the part buffers of an automatic parallelism (default the JVM's); for tests. */
        Builder maxHeap(long bytes) {
            this.maxHeap = inRange(bytes, 1, Long.MAX_VALUE, "heap must be positive");
            return this;
        }

        /**
         * How many ranged GETs of one object run at once when it is read (default 12, or the system
         * property {@value #DOWNLOAD_PARALLELISM_PROPERTY}); 1 reads every object with a single GET.
         */
        public Builder downloadParallelism(int gets) {
            this.downloadParallelism = (int) inRange(gets, 1, Integer.MAX_VALUE, "download parallelism must be at least 1");
            return this;
        }

        /**
         * The size of the ranges that a parallel read GETs (default 4 MiB, or the system property
         * {@value #DOWNLOAD_RANGE_KIB_PROPERTY} in KiB); small for tests.
         */
        Builder downloadPartSize(long bytes) {
            this.downloadPartSize = inRange(bytes, 1, S3ObjectWriter.MAX_BUFFER_SIZE, "download part size out of range");
            return this;
        }

        /**
         * Whether a large object's first GET is read on for as long as the network keeps ahead
         * of the reader, ranged GETs taking over only then (default); false requests the ranges
         * from the start (for tests of the ranges).
         */
        Builder downloadStreamFirst(boolean streamFirst) {
            this.downloadStreamFirst = streamFirst;
            return this;
        }

        /** When ranges take over from the first GET ({@link ParallelRangeDownload.Downloads#waitingShare}); for tests. */
        Builder downloadWaitingShare(double share) {
            this.downloadWaitingShare = share;
            return this;
        }

        /** Keys per ListObjectsV2 page (default 1000, the S3 maximum). */
        public Builder listPageSize(int keys) {
            this.listPageSize = (int) inRange(keys, 1, 1000, "list page size must be between 1 and 1000");
            return this;
        }

        /**
         * How long an aborted multipart upload keeps trying to reach the store to abort the upload
         * (default 60 s), so a short outage leaves no orphaned parts.
         */
        public Builder abortPatience(Duration patience) {
            this.abortPatience = patience;
            return this;
        }

        /**
         * Attempts per request (default 5, or the system property {@value #MAX_ATTEMPTS_PROPERTY}):
         * the SDK's standard retry strategy for 5xx, throttling and connection errors, and the
         * number of times in a row a cut download is resumed.
         */
        public Builder maxAttempts(int attempts) {
            this.maxAttempts = (int) inRange(attempts, 1, Integer.MAX_VALUE, "max attempts must be at least 1");
            return this;
        }

        /**
         * Backoff between attempts: exponential from {@code base}, capped at {@code max}, with full
         * jitter (defaults 100 ms and 20 s, or the system properties
         * {@value #RETRY_BASE_DELAY_PROPERTY} and {@value #RETRY_MAX_DELAY_PROPERTY}, in ms).
         */
        public Builder retryBackoff(Duration base, Duration max) {
            if (base.isNegative() || max.compareTo(base) < 0) {
                throw new IllegalArgumentException("retry backoff needs 0 <= base <= max, not " + base + ", " + max);
            }
            this.retryBaseDelay = base;
            this.retryMaxDelay = max;
            return this;
        }

        /** {@code value} if it is within {@code [min, max]}; else the rule and the value, as an IllegalArgumentException. */
        private static long inRange(long value, long min, long max, String rule) {
            if (value < min || value > max) {
                throw new IllegalArgumentException(rule + ", not " + value);
            }
            return value;
        }

        /** Builds the repository; does not contact the store (see {@link S3Repository#checkAccess()}). */
        public S3Repository build() {
            return new S3Repository(this);
        }
    }
}
