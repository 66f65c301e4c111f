package dev.synapsebackup.repository;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;

/**
 * Create-if-absent on S3 with {@code If-None-Match: *}, and what this store makes of it: some
 * S3-compatible stores answer it with 501 or silently ignore it, which this learns (from a 501, or
 * from a probe) and then falls back to write-then-read-back.
 */
final class ConditionalPut {
    private static final Logger LOG = LoggerFactory.getLogger(S3Repository.class);
    private static final String OCTET_STREAM = "application/octet-stream";

    private final S3Bucket bucket;
    /** The store itself, for the existence check and the read-back. */
    private final ObjectStore store;
    /** Set once the store answered a conditional PutObject with "not implemented". */
    private volatile boolean unsupported;
    /** Set once the store was asked whether it honours conditional writes (see {@link #supported}). */
    private volatile boolean probed;

    /** Whether each PUT carries a Content-MD5 (a bucket with a default Object Lock retention requires it). */
    private final boolean contentMd5;

    ConditionalPut(S3Bucket bucket, ObjectStore store, boolean contentMd5) {
        this.bucket = bucket;
        this.store = store;
        this.contentMd5 = contentMd5;
    }

    private String md5(byte[] body) {
        return contentMd5 ? S3ObjectLock.md5(body, 0, body.length) : null;
    }

    /** See {@link S3Repository#putIfAbsent}. */
    boolean putIfAbsent(String key, byte[] content, Map<String, String> metadata) throws IOException {
        // The existence check protects an existing object from a store that ignores the condition
        // (or does not implement it). Once this run's probe saw the store refuse a conditional put
        // of an existing key (412), the conditional put is that check itself, atomically: the
        // HEAD is not sent. A store that answers 501 after all still gets it before the plain put.
        boolean checked = !(probed && !unsupported);
        if (checked && store.stat(key).isPresent()) {
            return false;
        }
        boolean conditional = true;
        try {
            put(key, content, metadata, true);
        } catch (SdkException e) {
            if (S3Errors.isConditionFailed(e)) {
                return false; // someone else was first
            }
            if (!S3Errors.isNotImplemented(e)) {
                throw bucket.errors().failure("write", key, e);
            }
            conditional = false;
            unsupported = true;
            if (!checked && store.stat(key).isPresent()) {
                return false;
            }
            try {
                put(key, content, metadata, false);
            } catch (SdkException e2) {
                throw bucket.errors().failure("write", key, e2);
            }
        }
        // A store that silently ignores If-None-Match (or, with !conditional, does not implement
        // it) answers 200 even if another writer won the race since our check: read back to see
        // whose content is there.
        LOG.debug("putIfAbsent {}: conditional write {}", key, conditional ? "accepted" : "not implemented");
        try (InputStream in = store.open(key)) {
            return Arrays.equals(in.readNBytes(content.length + 1), content);
        } catch (FileNotFoundException e) {
            return false;
        }
    }

    private void put(String key, byte[] content, Map<String, String> metadata, boolean ifNoneMatch) {
        bucket.client().putObject(b -> {
            b.bucket(bucket.name()).key(bucket.fullKey(key)).metadata(metadata).contentMD5(md5(content));
            if (ifNoneMatch) {
                b.ifNoneMatch("*");
            }
        }, RequestBody.fromContentProvider(() -> new ByteArrayInputStream(content), content.length, OCTET_STREAM));
    }

    /**
     * See {@link S3Repository#supportsConditionalPut}.
     *
     * <p>The answer is asked of the store on every run, not remembered across runs (say in the
     * host state): if a remembered "honoured" were wrong (the store replaced by one that ignores
     * the condition), the read-back after the lock's put would not be enough. Two racing runs can
     * both read back their own lock when the second put lands after the first read-back; the
     * first notices only at its next {@link RepositoryLock#checkStillHeld()}, and by then it has
     * already removed what it takes for an interrupted run's media copies, which are the other
     * run's copies in progress. Checking the answer in the run means rewriting the live lock
     * object, which a racing run can read half-written on a store that does not replace objects
     * atomically (s3rver); the probe's own key avoids that.
     */
    boolean supported() {
        if (!probed && !unsupported) {
            synchronized (this) {
                if (!probed) {
                    probe();
                }
            }
        }
        return !unsupported;
    }

    private void probe() {
        byte[] token = new byte[8];
        new SecureRandom().nextBytes(token);
        String key = ".conditional-put-probe-" + HexFormat.of().formatHex(token);
        String full = bucket.fullKey(key);
        byte[] body = "synapse-backup probe: does this store honour If-None-Match?\n".getBytes(StandardCharsets.UTF_8);
        try {
            bucket.client().putObject(b -> b.bucket(bucket.name()).key(full).contentMD5(md5(body)), RequestBody.fromBytes(body));
            try {
                bucket.client().putObject(b -> b.bucket(bucket.name()).key(full).ifNoneMatch("*").contentMD5(md5(body)),
                        RequestBody.fromBytes(body));
                LOG.info("{} does not honour conditional writes (If-None-Match: *): locking by write-then-list", store.location());
                unsupported = true;
            } catch (SdkException e) {
                if (S3Errors.isNotImplemented(e)) {
                    LOG.info("{} does not implement conditional writes: locking by write-then-list", store.location());
                    unsupported = true;
                } else if (!S3Errors.isConditionFailed(e)) {
                    throw new UncheckedIOException(bucket.errors().failure("write", key, e));
                }
            }
            probed = true;
        } catch (SdkException e) {
            throw new UncheckedIOException(bucket.errors().failure("write", key, e));
        } finally {
            try {
                bucket.client().deleteObject(b -> b.bucket(bucket.name()).key(full));
            } catch (SdkException e) {
                LOG.warn("could not remove the probe object {} (not a backup; no command needs it): {}", full, e.getMessage());
            }
        }
    }
}
