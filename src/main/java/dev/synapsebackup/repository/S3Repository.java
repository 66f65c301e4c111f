package dev.synapsebackup.repository;

import dev.synapsebackup.RepositoryAccessException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.S3Parameters;
import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.xml.stream.XMLEventReader;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamException;
import org.apache.hc.client5.http.DnsResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectResponse;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadBucketRequest;
import software.amazon.awssdk.services.s3.model.HeadBucketResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsRequest;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * A repository in an S3 bucket (AWS or any S3-compatible store), under the normalised prefix of
 * SPEC §3. Built on the AWS SDK v2 with the Apache HTTP client.
 *
 * <p>Large objects are written as streaming multipart uploads with several parts in flight (see
 * {@link #create(String, long, Map)}); memory stays bounded by {@code (parallelism + 1) x partSize}.
 *
 * <p>Instances are thread-safe. {@link #close()} releases connections and upload threads.
 */
public final class S3Repository extends AbstractRepository {
    private static final Logger LOG = LoggerFactory.getLogger(S3Repository.class);
    /** Smallest part S3 accepts (except for the last one). */
    static final long MIN_PART_SIZE = 5L * 1024 * 1024;
    /** Largest part S3 accepts. */
    static final long MAX_PART_SIZE = 5L * 1024 * 1024 * 1024;
    /** S3's limit on the number of parts of one object. */
    static final int MAX_PARTS = 10_000;
    /** Default smallest part size chosen for a known size. */
    static final long DEFAULT_MIN_PART_SIZE = 8L * 1024 * 1024;
    /**
     * Largest part buffer: Java arrays stop short of 2 GiB, and {@code parallelism + 1} of them
     * must fit in the heap.
     */
    static final long MAX_BUFFER_SIZE = 1024L * 1024 * 1024;
    /** Parts that an object of the expected size is planned for, leaving room for overruns. */
    static final int PLANNED_PARTS = 8_000;
    /** System property: default attempts per request. */
    public static final String MAX_ATTEMPTS_PROPERTY = "synapse-backup.s3.max-attempts";
    /** System property: default first retry delay in milliseconds. */
    public static final String RETRY_BASE_DELAY_PROPERTY = "synapse-backup.s3.retry-base-delay-ms";
    /** System property: default longest retry delay in milliseconds. */
    public static final String RETRY_MAX_DELAY_PROPERTY = "synapse-backup.s3.retry-max-delay-ms";
    /** Part size when the object's size is not known in advance. */
    static final long UNKNOWN_SIZE_PART_SIZE = 16L * 1024 * 1024;

    private final S3Parameters parameters;
    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final long partSizeOverride;
    private final int parallelism;
    private final int listPageSize;
    private final java.time.Duration abortPatience;
    private final int maxAttempts;
    private final BackoffStrategy backoff;
    private final ExecutorService uploadExecutor;
    /** Set once the store answered a conditional PutObject with "not implemented". */
    private volatile boolean conditionalPutUnsupported;
    /** Set once the store was asked whether it honours conditional writes (see {@link #supportsConditionalPut}). */
    private volatile boolean conditionalPutProbed;

    private S3Repository(Builder b) {
        this.parameters = b.parameters;
        this.bucket = b.parameters.bucket();
        this.prefix = b.parameters.prefix();
        this.partSizeOverride = b.partSize;
        this.parallelism = b.parallelism;
        this.listPageSize = b.listPageSize;
        this.abortPatience = b.abortPatience;
        this.maxAttempts = b.maxAttempts;
        this.backoff = BackoffStrategy.exponentialDelay(b.retryBaseDelay, b.retryMaxDelay);
        this.s3 = buildClient(b);
        AtomicInteger threadNumber = new AtomicInteger();
        ThreadFactory threads = r -> {
            Thread t = new Thread(r, "s3-upload-" + threadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.uploadExecutor = Executors.newCachedThreadPool(threads);
    }

    /** How long an abort keeps trying to reach the store. */
    java.time.Duration abortPatience() {
        return abortPatience;
    }

    private static S3Client buildClient(Builder b) {
        S3Parameters p = b.parameters;
        Apache5HttpClient.Builder http = Apache5HttpClient.builder()
                // Every part upload in flight holds a connection; leave room for other requests.
                .maxConnections(Math.max(8, b.parallelism * 2 + 2))
                .connectionTimeout(Duration.ofSeconds(10))
                .socketTimeout(Duration.ofSeconds(60));
        if (b.dnsResolver != null) {
            http.dnsResolver(b.dnsResolver);
        }
        var client = S3Client.builder()
                .httpClientBuilder(http)
                .region(Region.of(p.effectiveRegion()))
                .credentialsProvider(credentials(p))
                .forcePathStyle(p.addressingStyle() == S3Parameters.AddressingStyle.PATH)
                // Parts are whole byte arrays in memory: sign each with one SHA-256 of its payload
                // (over http; https sends UNSIGNED-PAYLOAD) instead of aws-chunked 128 KiB signed
                // chunks, which some stores do not understand and which cost a signature per chunk.
                .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build())
                // SDK >= 2.30 sends CRC32 checksums by default, which many S3-compatible stores reject.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                // Exponential backoff with full jitter, for server errors and throttling (SlowDown) alike.
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                        .maxAttempts(b.maxAttempts)
                        .backoffStrategy(BackoffStrategy.exponentialDelay(b.retryBaseDelay, b.retryMaxDelay))
                        .throttlingBackoffStrategy(BackoffStrategy.exponentialDelay(b.retryBaseDelay, b.retryMaxDelay))
                        .build()));
        p.endpoint().ifPresent(e -> client.endpointOverride(URI.create(e)));
        return client.build();
    }

    /**
     * Initialises the SDK classes that this repository's requests and responses use, without a
     * server: for the launcher's class data sharing training (see {@code train-startup}), which
     * records what a run loads. The model classes' static initialisers spin some 700 lambdas
     * (one per field accessor), which a run against a real store would otherwise spin again.
     */
    public static void initialiseSdkClasses() {
        List<Object> builders = List.of(
                PutObjectRequest.builder(), PutObjectResponse.builder(),
                GetObjectRequest.builder(), GetObjectResponse.builder(),
                HeadObjectRequest.builder(), HeadObjectResponse.builder(),
                HeadBucketRequest.builder(), HeadBucketResponse.builder(),
                DeleteObjectRequest.builder(), DeleteObjectResponse.builder(),
                ListObjectsV2Request.builder(), ListObjectsV2Response.builder(), S3Object.builder(),
                ListMultipartUploadsRequest.builder(), ListMultipartUploadsResponse.builder(),
                MultipartUpload.builder(),
                CreateMultipartUploadRequest.builder(), CreateMultipartUploadResponse.builder(),
                UploadPartRequest.builder(), UploadPartResponse.builder(),
                CompleteMultipartUploadRequest.builder(), CompleteMultipartUploadResponse.builder(),
                CompletedMultipartUpload.builder(), CompletedPart.builder(),
                AbortMultipartUploadRequest.builder(), AbortMultipartUploadResponse.builder());
        LOG.debug("initialised {} S3 model classes", builders.size());
        // The JDK's StAX reader, which the SDK's XML response parsing uses.
        try {
            XMLEventReader r = XMLInputFactory.newInstance().createXMLEventReader(new ByteArrayInputStream(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name></ListBucketResult>"
                            .getBytes(StandardCharsets.UTF_8)));
            while (r.hasNext()) {
                r.nextEvent();
            }
            r.close();
        } catch (XMLStreamException e) {
            throw new IllegalStateException("the JDK's XML reader failed on a constant document", e);
        }
    }

    private static AwsCredentialsProvider credentials(S3Parameters p) {
        if (p.accessKey().isPresent() && p.secretKey().isPresent()) {
            String access = p.accessKey().get();
            String secret = p.secretKey().get().revealString();
            return StaticCredentialsProvider.create(p.sessionToken().isPresent()
                    ? AwsSessionCredentials.create(access, secret, p.sessionToken().get().revealString())
                    : AwsBasicCredentials.create(access, secret));
        }
        DefaultCredentialsProvider.Builder chain = DefaultCredentialsProvider.builder();
        p.profile().ifPresent(chain::profileName);
        return chain.build();
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
        return prefix;
    }

    @Override
    public String location() {
        return parameters.location();
    }

    /** The full S3 key of a repository-relative key. */
    String fullKey(String key) {
        return prefix.isEmpty() ? key : prefix + "/" + key;
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
        try {
            s3.headBucket(r -> r.bucket(bucket));
            if (parameters.addressingStyle() == S3Parameters.AddressingStyle.VIRTUAL) {
                ListObjectsV2Response r = s3.listObjectsV2(b -> b.bucket(bucket).maxKeys(1)
                        .prefix(prefix.isEmpty() ? null : prefix + "/"));
                if (!bucket.equals(r.name())) {
                    LOG.info("a listing of bucket \"{}\" at {} named {}", bucket, endpointForMessages(),
                            r.name() == null ? "no bucket" : "\"" + r.name() + "\"");
                    throw new dev.synapsebackup.ConfigException(
                            "the store does not serve virtual-hosted addressing; set s3-uri-style: path");
                }
            }
        } catch (SdkException e) {
            if (e instanceof AbortedException || Thread.currentThread().isInterrupted()) {
                throw new SynapseBackupException(SynapseBackupException.INTERRUPTED,
                        "interrupted while checking bucket " + bucket);
            }
            throw new RepositoryAccessException(bucketReason(e), e);
        }
    }

    /** The reason a bucket request failed, for {@code ... cannot be accessed (<reason>)}. Never a secret. */
    private String bucketReason(SdkException e) {
        if (e instanceof AwsServiceException se) {
            int status = se.statusCode();
            String code = se.awsErrorDetails() == null ? null : se.awsErrorDetails().errorCode();
            return switch (status) {
                case 404 -> "bucket \"" + bucket + "\" does not exist";
                case 403 -> "access to bucket \"" + bucket + "\" denied (403"
                        + (code == null || code.isBlank() || code.equals("403") ? "" : " " + code) + ")";
                case 301 -> "bucket \"" + bucket + "\" is in another region than " + parameters.effectiveRegion();
                default -> "bucket \"" + bucket + "\": HTTP " + status + (code == null ? "" : " " + code);
            };
        }
        return connectionReason(e);
    }

    /** A connection-level failure in words: refused, unknown host, timeout. */
    private String connectionReason(Throwable e) {
        String endpoint = endpointForMessages();
        String message = e.getMessage() == null ? "" : e.getMessage();
        if (message.startsWith("Unable to load credentials") || message.startsWith("Profile file contained no credentials")) {
            return "no usable AWS credentials: " + firstLine(message, "");
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof UnknownHostException) {
                return "unknown host " + c.getMessage() + " (endpoint " + endpoint + ")";
            }
            if (c instanceof ConnectException || c instanceof NoRouteToHostException) {
                return "cannot connect to " + endpoint + ": " + firstLine(c.getMessage(), "connection failed");
            }
            if (c instanceof SocketTimeoutException) {
                return "timed out talking to " + endpoint;
            }
        }
        return "cannot reach bucket \"" + bucket + "\" at " + endpoint + ": " + firstLine(e.getMessage(), e.toString());
    }

    private static String firstLine(String s, String fallback) {
        if (s == null || s.isBlank()) {
            return fallback;
        }
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        // Apache reports "Connect to 127.0.0.1:1 [/127.0.0.1] failed: Connection refused"; keep the cause.
        int failed = line.lastIndexOf("failed: ");
        return failed >= 0 ? line.substring(failed + "failed: ".length()) : line;
    }

    /** The endpoint without any user-info part (which could hold a secret). */
    private String endpointForMessages() {
        Optional<String> e = parameters.endpoint();
        if (e.isEmpty()) {
            return "s3." + parameters.effectiveRegion() + ".amazonaws.com";
        }
        URI uri = URI.create(e.get());
        return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
    }

    /** Maps an SDK failure on an object to an IOException naming the object. */
    IOException failure(String action, String key, SdkException e) {
        String what = action + " s3://" + bucket + "/" + fullKey(key);
        if (e instanceof AbortedException || Thread.currentThread().isInterrupted()) {
            InterruptedIOException ie = new InterruptedIOException(what + ": interrupted");
            ie.initCause(e);
            return ie;
        }
        String reason;
        if (e instanceof AwsServiceException se) {
            String code = se.awsErrorDetails() == null ? null : se.awsErrorDetails().errorCode();
            reason = "HTTP " + se.statusCode() + (code == null ? "" : " " + code);
        } else {
            reason = connectionReason(e);
        }
        return new IOException("cannot " + what + ": " + reason, e);
    }

    /**
     * Like {@link #failure} but a store that cannot be used at all — access denied, no such
     * bucket, unreachable after the retries — is a {@link RepositoryAccessException} (exit 3).
     */
    IOException failureOrAccess(String action, String key, SdkException e) {
        IOException io = failure(action, key, e);
        if (io instanceof InterruptedIOException) {
            return io;
        }
        boolean access = e instanceof AwsServiceException se
                ? se.statusCode() == 403 || se.statusCode() == 301 || (se.statusCode() == 404 && se.awsErrorDetails() != null
                        && "NoSuchBucket".equals(se.awsErrorDetails().errorCode()))
                : true;
        if (access) {
            throw new RepositoryAccessException(io.getMessage(), e);
        }
        return io;
    }

    private static boolean isNoSuchBucket(SdkException e) {
        return e instanceof AwsServiceException se && se.awsErrorDetails() != null
                && "NoSuchBucket".equals(se.awsErrorDetails().errorCode());
    }

    static boolean isNotFound(SdkException e) {
        return e instanceof AwsServiceException se && se.statusCode() == 404;
    }

    // ---- object level ----

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        HeadObjectResponse r;
        try {
            r = s3.headObject(b -> b.bucket(bucket).key(fullKey(key)));
        } catch (SdkException e) {
            if (isNotFound(e) && !isNoSuchBucket(e)) {
                return Optional.empty();
            }
            // Denied or no bucket: the repository cannot be used (exit 3); a network failure stays an IOException.
            throw e instanceof AwsServiceException ? failureOrAccess("stat", key, e) : failure("stat", key, e);
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
     * <p>A GET cut off mid-stream (connection reset, premature end, timeout) is resumed with a
     * ranged GET from the byte reached, conditional on the object's ETag, after a backoff; up to
     * {@code maxAttempts - 1} times in a row without progress in between. A multi-GB restore thus
     * survives a flaky network without starting over.
     */
    @Override
    public InputStream open(String key) throws IOException {
        return new ResumingInputStream(key, get(key, 0, null));
    }

    private ResponseInputStream<GetObjectResponse> get(String key, long from, String eTag) throws IOException {
        try {
            return s3.getObject(b -> {
                b.bucket(bucket).key(fullKey(key));
                if (from > 0) {
                    b.range("bytes=" + from + "-");
                }
                if (eTag != null) {
                    b.ifMatch(eTag);
                }
            });
        } catch (SdkException e) {
            if (isNotFound(e)) {
                FileNotFoundException fnf = new FileNotFoundException(
                        "object " + key + " does not exist in " + location());
                fnf.initCause(e);
                throw fnf;
            }
            if (e instanceof AwsServiceException se && se.statusCode() == 412) {
                throw new IOException("cannot read s3://" + bucket + "/" + fullKey(key)
                        + ": the object changed while it was being read", e);
            }
            throw failure("read", key, e);
        }
    }

    /** How many times a cut download was resumed by this repository (for tests and logs). */
    long resumedDownloads() {
        return resumes.get();
    }

    private final java.util.concurrent.atomic.AtomicLong resumes = new java.util.concurrent.atomic.AtomicLong();

    /** A GET body that re-GETs the rest of the object when the connection breaks. */
    private final class ResumingInputStream extends InputStream {
        private final String key;
        private final String eTag;
        private final long length;
        private AbortOnEarlyClose in;
        private long position;
        private int failuresInARow;

        ResumingInputStream(String key, ResponseInputStream<GetObjectResponse> first) {
            this.key = key;
            this.in = new AbortOnEarlyClose(first);
            this.eTag = first.response().eTag();
            Long len = first.response().contentLength();
            this.length = len == null ? -1 : len;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            while (true) {
                try {
                    int n = in.read(buf, off, len);
                    if (n < 0 && length >= 0 && position < length) {
                        throw new IOException("premature end of the object after " + position + " of " + length + " bytes");
                    }
                    if (n > 0) {
                        position += n;
                        failuresInARow = 0;
                    }
                    return n;
                } catch (IOException | SdkException e) {
                    resume(e);
                }
            }
        }

        private void resume(Exception cause) throws IOException {
            if (cause instanceof InterruptedIOException || cause instanceof AbortedException
                    || Thread.currentThread().isInterrupted() || eTag == null || length < 0
                    || ++failuresInARow >= maxAttempts) {
                if (cause instanceof IOException io) {
                    throw io;
                }
                throw failure("read", key, (SdkException) cause);
            }
            LOG.debug("download of {} cut after {} bytes ({}); resuming, attempt {} of {}", fullKey(key), position,
                    cause.toString(), failuresInARow + 1, maxAttempts);
            in.abortQuietly();
            try {
                Thread.sleep(backoff.computeDelay(failuresInARow).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                InterruptedIOException ie = new InterruptedIOException("read of " + key + " interrupted");
                ie.initCause(cause);
                throw ie;
            }
            in = new AbortOnEarlyClose(get(key, position, eTag));
            resumes.incrementAndGet();
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /**
     * Closing a partly read response would make Apache drain the rest of the object to reuse the
     * connection; abort the connection instead.
     */
    private static final class AbortOnEarlyClose extends FilterInputStream {
        private final ResponseInputStream<GetObjectResponse> response;
        private boolean eof;

        AbortOnEarlyClose(ResponseInputStream<GetObjectResponse> response) {
            super(response);
            this.response = response;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            eof |= b < 0;
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            eof |= n < 0;
            return n;
        }

        void abortQuietly() {
            try {
                response.abort();
                super.close();
            } catch (IOException | RuntimeException ignored) {
                // the connection is broken already
            }
        }

        @Override
        public void close() throws IOException {
            if (!eof) {
                response.abort();
            }
            super.close();
        }
    }

    @Override
    public void deleteObject(String key) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(fullKey(key)));
        } catch (SdkException e) {
            if (!isNotFound(e)) {
                throw failure("delete", key, e);
            }
        }
    }

    @Override
    public void listObjects(Consumer<ObjectInfo> consumer) throws IOException {
        String keyPrefix = prefix.isEmpty() ? "" : prefix + "/";
        ListObjectsV2Request.Builder request = ListObjectsV2Request.builder().bucket(bucket).maxKeys(listPageSize);
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
            throw failureOrAccess("list", "", e);
        }
    }

    /**
     * The keys (relative to the prefix) of multipart uploads under the prefix that were started
     * but neither completed nor aborted. A clean repository has none.
     */
    public List<String> incompleteUploads() throws IOException {
        String keyPrefix = prefix.isEmpty() ? "" : prefix + "/";
        List<String> keys = new ArrayList<>();
        try {
            for (var page : s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(keyPrefix))) {
                for (MultipartUpload u : page.uploads()) {
                    if (u.key().startsWith(keyPrefix)) {
                        keys.add(u.key().substring(keyPrefix.length()));
                    }
                }
            }
        } catch (SdkException e) {
            throw failure("list multipart uploads of", "", e);
        }
        return keys;
    }

    @Override
    public int removeStaleUploads(java.time.Duration olderThan) throws IOException {
        String keyPrefix = prefix.isEmpty() ? "" : prefix + "/";
        java.time.Instant cutoff = java.time.Instant.now().minus(olderThan);
        int aborted = 0;
        try {
            for (var page : s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(keyPrefix))) {
                for (MultipartUpload u : page.uploads()) {
                    String name = u.key().startsWith(keyPrefix) ? u.key().substring(keyPrefix.length()) : null;
                    // Only our own uploads: another program's upload under the prefix is not ours to abort.
                    boolean ours = name != null && (BackupId.isBackupName(name)
                            || name.endsWith(".manifest") && BackupId.isBackupName(name.substring(0, name.length() - 9)));
                    if (ours && u.initiated() != null && u.initiated().isBefore(cutoff)) {
                        s3.abortMultipartUpload(b -> b.bucket(bucket).key(u.key()).uploadId(u.uploadId()));
                        aborted++;
                    }
                }
            }
        } catch (SdkException e) {
            throw failure("abort stale multipart uploads of", "", e);
        }
        return aborted;
    }

    /**
     * Aborts every incomplete multipart upload under the prefix: the leftovers of a run whose
     * abort could not reach the store (a network cut, a killed process). Call it only while
     * holding the repository lock, since it also ends uploads that are still in progress.
     *
     * @return how many uploads were aborted
     */
    public int abortIncompleteUploads() throws IOException {
        String keyPrefix = prefix.isEmpty() ? "" : prefix + "/";
        int aborted = 0;
        try {
            for (var page : s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(keyPrefix))) {
                for (MultipartUpload u : page.uploads()) {
                    if (u.key().startsWith(keyPrefix)) {
                        s3.abortMultipartUpload(b -> b.bucket(bucket).key(u.key()).uploadId(u.uploadId()));
                        aborted++;
                    }
                }
            }
        } catch (SdkException e) {
            throw failure("abort multipart uploads of", "", e);
        }
        return aborted;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Uses {@code If-None-Match: *}. Because some S3-compatible stores answer it with 501 or
     * silently ignore it, the object is first checked for (an existing object is never
     * overwritten by this call), and after a write that the store may not have made conditional
     * the object is read back: only if it holds {@code content} does this call count as the
     * creator. On such stores two racing callers can in rare cases both see their own content, so
     * callers must put something unique in {@code content} (host, pid, time) and treat the result
     * as best effort there; on AWS S3 and stores that implement conditional writes it is atomic.
     */
    @Override
    public boolean putIfAbsent(String key, byte[] content, Map<String, String> metadata) throws IOException {
        if (stat(key).isPresent()) {
            return false;
        }
        String full = fullKey(key);
        boolean conditional = true;
        try {
            s3.putObject(b -> b.bucket(bucket).key(full).metadata(metadata).ifNoneMatch("*"),
                    RequestBody.fromContentProvider(() -> new ByteArrayInputStream(content), content.length,
                            "application/octet-stream"));
        } catch (SdkException e) {
            if (e instanceof AwsServiceException se && (se.statusCode() == 412 || se.statusCode() == 409)) {
                return false; // PreconditionFailed or ConditionalRequestConflict: someone else was first
            }
            if (!isNotImplemented(e)) {
                throw failure("write", key, e);
            }
            conditional = false;
            conditionalPutUnsupported = true;
            try {
                s3.putObject(b -> b.bucket(bucket).key(full).metadata(metadata),
                        RequestBody.fromContentProvider(() -> new ByteArrayInputStream(content), content.length,
                                "application/octet-stream"));
            } catch (SdkException e2) {
                throw failure("write", key, e2);
            }
        }
        // A store that silently ignores If-None-Match (or, with !conditional, does not implement
        // it) answers 200 even if another writer won the race since our check: read back to see
        // whose content is there.
        LOG.debug("putIfAbsent {}: conditional write {}", key, conditional ? "accepted" : "not implemented");
        boolean ours;
        try (InputStream in = open(key)) {
            ours = Arrays.equals(in.readNBytes(content.length + 1), content);
        } catch (FileNotFoundException e) {
            return false;
        }
        return ours;
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
        if (!conditionalPutProbed && !conditionalPutUnsupported) {
            synchronized (this) {
                if (!conditionalPutProbed) {
                    probeConditionalPut();
                }
            }
        }
        return !conditionalPutUnsupported;
    }

    private void probeConditionalPut() {
        byte[] token = new byte[8];
        new java.security.SecureRandom().nextBytes(token);
        String key = ".conditional-put-probe-" + java.util.HexFormat.of().formatHex(token);
        String full = fullKey(key);
        byte[] body = "synapse-backup probe: does this store honour If-None-Match?\n".getBytes(StandardCharsets.UTF_8);
        try {
            s3.putObject(b -> b.bucket(bucket).key(full), RequestBody.fromBytes(body));
            try {
                s3.putObject(b -> b.bucket(bucket).key(full).ifNoneMatch("*"), RequestBody.fromBytes(body));
                LOG.info("{} does not honour conditional writes (If-None-Match: *): locking by write-then-list", location());
                conditionalPutUnsupported = true;
            } catch (SdkException e) {
                if (isNotImplemented(e)) {
                    LOG.info("{} does not implement conditional writes: locking by write-then-list", location());
                    conditionalPutUnsupported = true;
                } else if (!(e instanceof AwsServiceException se && (se.statusCode() == 412 || se.statusCode() == 409))) {
                    throw new java.io.UncheckedIOException(failure("write", key, e));
                }
            }
            conditionalPutProbed = true;
        } catch (SdkException e) {
            throw new java.io.UncheckedIOException(failure("write", key, e));
        } finally {
            try {
                s3.deleteObject(b -> b.bucket(bucket).key(full));
            } catch (SdkException e) {
                LOG.warn("could not remove the probe object {} (not a backup; no command needs it): {}", full, e.getMessage());
            }
        }
    }

    private static boolean isNotImplemented(SdkException e) {
        if (!(e instanceof AwsServiceException se)) {
            return false;
        }
        String code = se.awsErrorDetails() == null ? null : se.awsErrorDetails().errorCode();
        return se.statusCode() == 501 || "NotImplemented".equals(code);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The part size is {@link #partSizeFor(long)}; up to {@code parallelism} parts upload at
     * once while the next one is being filled, and {@code write} blocks while all buffers are
     * in use. An object smaller than one part is sent as a single PutObject on commit. A failure,
     * {@link ObjectWriter#abort()}, close without commit, or interruption of the writing thread
     * aborts the multipart upload so that no object and no stored parts remain.
     */
    @Override
    public ObjectWriter create(String key, long expectedSize, Map<String, String> metadata) throws IOException {
        return new S3ObjectWriter(this, key, fullKey(key), partSizeFor(expectedSize), expectedSize,
                metadata == null ? Map.of() : Map.copyOf(metadata), parallelism);
    }

    /**
     * The first part size for an object of {@code expectedSize} bytes (-1: unknown): the
     * configured part size, or 8 MiB, or 16 MiB for an unknown size, raised so that the expected
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
        return Math.min(base, MAX_BUFFER_SIZE);
    }

    S3Client client() {
        return s3;
    }

    String bucket() {
        return bucket;
    }

    ExecutorService uploadExecutor() {
        return uploadExecutor;
    }

    @Override
    public void close() {
        uploadExecutor.shutdownNow();
        try {
            uploadExecutor.awaitTermination(10, TimeUnit.SECONDS);
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
        private int parallelism = 4;
        private int listPageSize = 1000;
        private int maxAttempts = Integer.getInteger(MAX_ATTEMPTS_PROPERTY, 5);
        private java.time.Duration retryBaseDelay = java.time.Duration.ofMillis(
                Long.getLong(RETRY_BASE_DELAY_PROPERTY, 100));
        private java.time.Duration retryMaxDelay = java.time.Duration.ofMillis(
                Long.getLong(RETRY_MAX_DELAY_PROPERTY, 20_000));
        private java.time.Duration abortPatience = java.time.Duration.ofSeconds(60);

        private Builder(S3Parameters parameters) {
            this.parameters = java.util.Objects.requireNonNull(parameters, "parameters");
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
            if (bytes < MIN_PART_SIZE || bytes > MAX_PART_SIZE) {
                throw new IllegalArgumentException("part size must be between 5 MiB and 5 GiB, not " + bytes);
            }
            this.partSize = bytes;
            return this;
        }

        /** How many parts of one object upload at once (default 4). */
        public Builder parallelism(int parts) {
            if (parts < 1) {
                throw new IllegalArgumentException("parallelism must be at least 1, not " + parts);
            }
            this.parallelism = parts;
            return this;
        }

        /** Keys per ListObjectsV2 page (default 1000, the S3 maximum). */
        public Builder listPageSize(int keys) {
            if (keys < 1 || keys > 1000) {
                throw new IllegalArgumentException("list page size must be between 1 and 1000, not " + keys);
            }
            this.listPageSize = keys;
            return this;
        }

        /**
         * How long an aborted multipart upload keeps trying to reach the store to abort the upload
         * (default 60 s), so a short outage leaves no orphaned parts.
         */
        public Builder abortPatience(java.time.Duration patience) {
            this.abortPatience = patience;
            return this;
        }

        /**
         * Attempts per request (default 5, or the system property {@value #MAX_ATTEMPTS_PROPERTY}):
         * the SDK's standard retry strategy for 5xx, throttling and connection errors, and the
         * number of times in a row a cut download is resumed.
         */
        public Builder maxAttempts(int attempts) {
            if (attempts < 1) {
                throw new IllegalArgumentException("max attempts must be at least 1, not " + attempts);
            }
            this.maxAttempts = attempts;
            return this;
        }

        /**
         * Backoff between attempts: exponential from {@code base}, capped at {@code max}, with full
         * jitter (defaults 100 ms and 20 s, or the system properties
         * {@value #RETRY_BASE_DELAY_PROPERTY} and {@value #RETRY_MAX_DELAY_PROPERTY}, in ms).
         */
        public Builder retryBackoff(java.time.Duration base, java.time.Duration max) {
            if (base.isNegative() || max.compareTo(base) < 0) {
                throw new IllegalArgumentException("retry backoff needs 0 <= base <= max, not " + base + ", " + max);
            }
            this.retryBaseDelay = base;
            this.retryMaxDelay = max;
            return this;
        }

        /** Builds the repository; does not contact the store (see {@link S3Repository#checkAccess()}). */
        public S3Repository build() {
            return new S3Repository(this);
        }
    }
}
