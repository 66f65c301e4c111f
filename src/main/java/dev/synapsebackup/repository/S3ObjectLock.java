package dev.synapsebackup.repository;

import dev.synapsebackup.config.ObjectLock;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.GetObjectLockConfigurationResponse;
import software.amazon.awssdk.services.s3.model.GetObjectRetentionResponse;
import software.amazon.awssdk.services.s3.model.ObjectLockEnabled;
import software.amazon.awssdk.services.s3.model.ObjectLockMode;
import software.amazon.awssdk.services.s3.model.ObjectLockRetentionMode;

/**
 * S3 Object Lock as a repository uses it: the retention that new data objects and manifests are
 * written with ({@code s3.object-lock}), the check that the store really keeps it, and the
 * retain-until dates that {@code prune} and {@code delete} respect.
 *
 * <p>Writes: the lock headers go on the PutObject or CreateMultipartUpload, and every PutObject
 * and UploadPart of the repository carries a Content-MD5, which S3 requires of uploads with Object
 * Lock parameters (and of every upload to a bucket with a default retention); the client computes
 * no checksum of its own ({@code WHEN_REQUIRED}). After the write the object's retention is read
 * back: a store that ignored the headers (S3Mock does) gets it with PutObjectRetention, and one that
 * keeps neither fails the write, so that no backup is believed retained that is not. (With
 * {@code WHEN_REQUIRED} the SDK adds no checksum to PutObject or UploadPart, lock headers or not;
 * PutObjectRetention, whose checksum S3 requires, gets the SDK's own {@code x-amz-checksum-crc32}.)
 *
 * <p>Reads: retention is looked up only in a bucket that has Object Lock enabled (asked once per
 * repository), so that stores without it see no new requests.
 */
final class S3ObjectLock {
    private static final Logger LOG = LoggerFactory.getLogger(S3ObjectLock.class);
    /** S3 keeps retain-until dates to the second (or coarser); a date this much earlier is the same. */
    private static final Duration PRECISION = Duration.ofSeconds(1);

    /** Whether a bucket has Object Lock enabled, as GetObjectLockConfiguration answers. */
    enum BucketStatus {
        ENABLED, NOT_ENABLED
    }

    /**
     * The answer about a bucket.
     *
     * @param status whether Object Lock is enabled
     * @param detail what the store said, for messages
     */
    record BucketLock(BucketStatus status, String detail) {
        boolean enabled() {
            return status == BucketStatus.ENABLED;
        }
    }

    private final S3Bucket bucket;
    private final ObjectLock config;
    private final Clock clock;
    private volatile BucketLock bucketLock;

    /**
     * @param config the configured retention, or null for none
     * @param clock  "now" for retain-until dates
     */
    S3ObjectLock(S3Bucket bucket, ObjectLock config, Clock clock) {
        this.bucket = bucket;
        this.config = config;
        this.clock = clock;
    }

    /** The configured retention, if any. */
    Optional<ObjectLock> config() {
        return Optional.ofNullable(config);
    }

    /** Whether uploads carry a Content-MD5: whenever Object Lock is configured. */
    boolean contentMd5() {
        return config != null;
    }

    /**
     * Whether {@code key} is retained when written: a backup's data object, manifest or copy of
     * S3-held media (under {@code media/<id>/}), never a lock.
     */
    static boolean retains(String key) {
        if (key.startsWith(AbstractRepository.MEDIA_PREFIX)) {
            int slash = key.indexOf('/', AbstractRepository.MEDIA_PREFIX.length());
            return slash > 0 && BackupId.isBackupName(key.substring(AbstractRepository.MEDIA_PREFIX.length(), slash));
        }
        if (key.endsWith(BackupId.MANIFEST_SUFFIX)) {
            return BackupId.isBackupName(key.substring(0, key.length() - BackupId.MANIFEST_SUFFIX.length()));
        }
        return BackupId.isBackupName(key);
    }

    /** The retain-until date of an upload of {@code key} starting now, or empty if it is not retained. */
    Optional<Instant> retainUntilForUpload(String key) {
        if (config == null || !retains(key)) {
            return Optional.empty();
        }
        return Optional.of(config.retainUntil(clock.instant()));
    }

    /** The configured mode, for the {@code x-amz-object-lock-mode} header. */
    ObjectLockMode headerMode() {
        return config.mode() == ObjectLock.Mode.COMPLIANCE ? ObjectLockMode.COMPLIANCE : ObjectLockMode.GOVERNANCE;
    }

    /** The Content-MD5 header value of {@code length} bytes of {@code data} from {@code offset}. */
    static String md5(byte[] data, int offset, int length) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            md.update(data, offset, length);
            return Base64.getEncoder().encodeToString(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no MD5", e);
        }
    }

    /**
     * Whether the bucket has Object Lock enabled (asked once). A store that does not implement the
     * request, or answers it with anything but an enabled configuration, has none.
     *
     * @throws IOException if the request fails otherwise (access denied, the store unreachable)
     */
    BucketLock bucketLock() throws IOException {
        BucketLock b = bucketLock;
        if (b != null) {
            return b;
        }
        try {
            GetObjectLockConfigurationResponse r = bucket.client().getObjectLockConfiguration(x -> x.bucket(bucket.name()));
            boolean enabled = r.objectLockConfiguration() != null
                    && r.objectLockConfiguration().objectLockEnabled() == ObjectLockEnabled.ENABLED;
            b = new BucketLock(enabled ? BucketStatus.ENABLED : BucketStatus.NOT_ENABLED,
                    enabled ? "Object Lock is enabled on bucket \"" + bucket.name() + "\""
                            : "bucket \"" + bucket.name() + "\" does not have Object Lock enabled");
        } catch (SdkException e) {
            // Without s3.object-lock, a store or a policy that does not answer means no retention to
            // respect; with it, only a store that lacks the feature does.
            boolean answered = e instanceof AwsServiceException se && (config == null
                    || se.statusCode() != 403 && (se.statusCode() < 500 || S3Errors.isNotImplemented(e)));
            if (!answered || S3Errors.isNoSuchBucket(e)) {
                throw bucket.errors().failure("read the Object Lock configuration of", "", e);
            }
            AwsServiceException se = (AwsServiceException) e;
            // AWS: 404 ObjectLockConfigurationNotFoundError; other stores: 400, 501 NotImplemented.
            String code = se.awsErrorDetails() == null ? null : se.awsErrorDetails().errorCode();
            String answer = "GetObjectLockConfiguration: HTTP " + se.statusCode() + (code == null ? "" : " " + code);
            if (se.statusCode() == 403 || se.statusCode() >= 500 && !S3Errors.isNotImplemented(e)) {
                // Not an answer about the bucket: go on as without Object Lock, but say so, since a
                // retained object then gets a delete marker instead of being kept.
                LOG.warn("cannot tell whether bucket \"{}\" has Object Lock ({}): backups are treated as not retained;"
                        + " in a bucket with Object Lock a retained object would only get a delete marker", bucket.name(), answer);
                b = new BucketLock(BucketStatus.NOT_ENABLED, "cannot tell whether bucket \"" + bucket.name()
                        + "\" has Object Lock (" + answer + ")");
            } else {
                b = new BucketLock(BucketStatus.NOT_ENABLED, "bucket \"" + bucket.name() + "\" does not have Object Lock"
                        + " enabled (" + answer + ")");
            }
        }
        bucketLock = b;
        return b;
    }

    /**
     * Until when {@code key} is retained, as the store reports it (GetObjectRetention); empty when
     * it has no retention, does not exist, or the bucket has no Object Lock.
     */
    Optional<Instant> retainedUntil(String key) throws IOException {
        if (!bucketLock().enabled()) {
            return Optional.empty();
        }
        return readRetention(key);
    }

    private Optional<Instant> readRetention(String key) throws IOException {
        GetObjectRetentionResponse r;
        try {
            r = bucket.client().getObjectRetention(x -> x.bucket(bucket.name()).key(bucket.fullKey(key)));
        } catch (SdkException e) {
            if (e instanceof AwsServiceException se && (se.statusCode() == 404 || se.statusCode() == 400)) {
                // NoSuchObjectLockConfiguration (no retention), NoSuchKey, or InvalidRequest (no Object Lock).
                return Optional.empty();
            }
            throw bucket.errors().failureOrAccess("read the retention of", key, e);
        }
        return r.retention() == null ? Optional.empty() : Optional.ofNullable(r.retention().retainUntilDate());
    }

    /**
     * Makes sure the object just written under {@code key} is retained until {@code until}: reads
     * its retention back and, when the store did not keep the headers, sets it.
     *
     * @throws IOException naming the object when the store keeps no retention
     */
    void ensureRetained(String key, Instant until) throws IOException {
        Optional<Instant> kept = readRetention(key);
        if (kept.isPresent() && !kept.get().isBefore(until.minus(PRECISION))) {
            return;
        }
        LOG.debug("{} kept no retention of {} from the upload's headers (it reports {}); setting it with PutObjectRetention",
                bucket.name(), key, kept.map(Instant::toString).orElse("none"));
        ObjectLockRetentionMode mode = config.mode() == ObjectLock.Mode.COMPLIANCE
                ? ObjectLockRetentionMode.COMPLIANCE : ObjectLockRetentionMode.GOVERNANCE;
        try {
            bucket.client().putObjectRetention(x -> x.bucket(bucket.name()).key(bucket.fullKey(key))
                    .retention(r -> r.mode(mode).retainUntilDate(until)));
        } catch (SdkException e) {
            IOException io = bucket.errors().failure("set the retention of", key, e);
            throw new IOException("the store did not keep the Object Lock retention (s3.object-lock) of " + key
                    + ": " + io.getMessage(), e);
        }
        kept = readRetention(key);
        if (kept.isEmpty() || kept.get().isBefore(until.minus(PRECISION))) {
            throw new IOException("the store did not keep the Object Lock retention (s3.object-lock) of " + key
                    + ": it reports " + kept.map(t -> "a retention until " + t).orElse("no retention")
                    + " instead of one until " + until);
        }
    }
}
