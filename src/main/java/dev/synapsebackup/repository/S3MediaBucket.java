package dev.synapsebackup.repository;

import dev.synapsebackup.config.S3Parameters;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.Optional;
import org.apache.hc.client5.http.DnsResolver;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The bucket of synapse-s3-storage-provider that Synapse keeps media in: listed, read and (for a
 * restore) written by key. Unlike a repository it has no prefix of its own: keys are full keys.
 * Thread-safe; {@link #close()} releases the connections.
 */
public final class S3MediaBucket implements AutoCloseable {
    private final S3Parameters parameters;
    private final S3Client s3;
    private final S3Errors errors;
    private final int pageSize;

    /**
     * @param parameters  how to reach the bucket (its path is ignored)
     * @param dnsResolver resolves host names, or null for the system's
     * @param connections requests that may run at once
     * @param pageSize    keys per ListObjectsV2 page (at most 1000)
     */
    public S3MediaBucket(S3Parameters parameters, DnsResolver dnsResolver, int connections, int pageSize) {
        this.parameters = parameters.toBuilder().path("").build();
        this.s3 = S3Clients.build(this.parameters, dnsResolver, connections, 5,
                BackoffStrategy.exponentialDelay(Duration.ofMillis(100), Duration.ofSeconds(20)));
        this.errors = new S3Errors(this.parameters);
        this.pageSize = pageSize;
    }

    /** The bucket's name. */
    public String name() {
        return parameters.bucket();
    }

    /** How the bucket is reached. */
    public S3Parameters parameters() {
        return parameters;
    }

    S3Client client() {
        return s3;
    }

    /**
     * Every object whose key starts with {@code keyPrefix}, in key order (UTF-8 byte order, as
     * S3 lists), fetched a page at a time as the iterator is consumed.
     */
    public Iterator<StoredObject> list(String keyPrefix) {
        Iterator<S3Object> it;
        try {
            it = s3.listObjectsV2Paginator(b -> b.bucket(name()).prefix(keyPrefix.isEmpty() ? null : keyPrefix)
                    .maxKeys(pageSize)).contents().iterator();
        } catch (SdkException e) {
            throw errors.accessFailure(e);
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                try {
                    return it.hasNext();
                } catch (SdkException e) {
                    throw new java.io.UncheckedIOException(errors.failure("list", keyPrefix, e));
                }
            }

            @Override
            public StoredObject next() {
                S3Object o = it.next();
                return new StoredObject(o.key(), o.size() == null ? 0 : o.size(), StoredObject.unquote(o.eTag()));
            }
        };
    }

    /** One object's size and ETag, or empty if there is none. */
    public Optional<StoredObject> head(String key) throws IOException {
        try {
            HeadObjectResponse r = s3.headObject(b -> b.bucket(name()).key(key));
            return Optional.of(new StoredObject(key, r.contentLength() == null ? 0 : r.contentLength(),
                    StoredObject.unquote(r.eTag())));
        } catch (SdkException e) {
            if (S3Errors.isNotFound(e) && !S3Errors.isNoSuchBucket(e)) {
                return Optional.empty();
            }
            throw errors.failure("stat", key, e);
        }
    }

    /** Reads one object. */
    public InputStream open(String key) throws IOException {
        try {
            return s3.getObject(b -> b.bucket(name()).key(key));
        } catch (SdkException e) {
            throw errors.readFailure(key, "s3://" + name(), e);
        }
    }

    /** Objects up to this size are written with one PUT from memory; larger ones in parts of it. */
    static final int PUT_PART = 16 * 1024 * 1024;

    /**
     * Writes one object of {@code size} bytes from {@code in}: one PUT up to 16 MiB, else a
     * multipart upload of 16 MiB parts (each in memory once, so that a request can be signed and
     * retried), aborted on any failure.
     *
     * @param storageClass the provider's {@code storage_class}, or null
     * @return its ETag
     */
    public String put(String key, InputStream in, long size, String storageClass) throws IOException {
        try {
            if (size <= PUT_PART) {
                byte[] all = in.readNBytes((int) size);
                checkLength(key, all.length, size, in);
                return StoredObject.unquote(s3.putObject(b -> {
                    b.bucket(name()).key(key).contentLength(size);
                    if (storageClass != null) {
                        b.storageClass(storageClass);
                    }
                }, RequestBody.fromBytes(all)).eTag());
            }
            String uploadId = s3.createMultipartUpload(b -> {
                b.bucket(name()).key(key);
                if (storageClass != null) {
                    b.storageClass(storageClass);
                }
            }).uploadId();
            boolean done = false;
            try {
                java.util.List<software.amazon.awssdk.services.s3.model.CompletedPart> parts = new java.util.ArrayList<>();
                long left = size;
                for (int n = 1; left > 0; n++) {
                    byte[] part = in.readNBytes((int) Math.min(PUT_PART, left));
                    if (part.length == 0) {
                        break;
                    }
                    left -= part.length;
                    int number = n;
                    String eTag = s3.uploadPart(b -> b.bucket(name()).key(key).uploadId(uploadId).partNumber(number),
                            RequestBody.fromBytes(part)).eTag();
                    parts.add(software.amazon.awssdk.services.s3.model.CompletedPart.builder().partNumber(n).eTag(eTag)
                            .build());
                }
                checkLength(key, size - left, size, in);
                String eTag = s3.completeMultipartUpload(b -> b.bucket(name()).key(key).uploadId(uploadId)
                        .multipartUpload(m -> m.parts(parts))).eTag();
                done = true;
                return StoredObject.unquote(eTag);
            } finally {
                if (!done) {
                    try {
                        s3.abortMultipartUpload(b -> b.bucket(name()).key(key).uploadId(uploadId));
                    } catch (SdkException e) {
                        // nothing more to do: the upload is gone with the bucket's lifecycle rules
                    }
                }
            }
        } catch (SdkException e) {
            throw errors.failure("write", key, e);
        }
    }

    private static void checkLength(String key, long read, long size, InputStream in) throws IOException {
        if (read != size || in.read() >= 0) {
            throw new IOException("the copy of " + key + " does not have the " + size + " bytes the manifest records");
        }
    }

    /**
     * Identifies the endpoint for "can this store copy server-side from that one": the endpoint
     * URL's scheme, host and port, or AWS's region when no endpoint is set.
     */
    public String endpointIdentity() {
        return endpointIdentity(parameters);
    }

    static String endpointIdentity(S3Parameters p) {
        if (p.endpoint().isEmpty()) {
            return "aws";
        }
        URI u = URI.create(p.endpoint().get());
        return u.getScheme().toLowerCase(Locale.ROOT) + "://" + u.getHost().toLowerCase(Locale.ROOT) + ":" + u.getPort();
    }

    @Override
    public void close() {
        s3.close();
    }

    @Override
    public String toString() {
        return "S3MediaBucket{" + parameters + "}";
    }
}
