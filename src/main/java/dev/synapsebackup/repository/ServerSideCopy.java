package dev.synapsebackup.repository;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CopyObjectResponse;
import software.amazon.awssdk.services.s3.model.UploadPartCopyResponse;

/**
 * Copies an object from another bucket on the same endpoint into a repository without its bytes
 * passing through the host: CopyObject, or above the threshold (S3 copies at most 5 GiB in one
 * request) a multipart upload of UploadPartCopy ranges, aborted on any failure so that no
 * incomplete upload remains.
 */
final class ServerSideCopy {
    /** The largest object one CopyObject may copy. */
    static final long MAX_SINGLE_COPY = 5L * 1024 * 1024 * 1024;

    private final S3Bucket target;
    private final S3ObjectLock objectLock;

    ServerSideCopy(S3Bucket target, S3ObjectLock objectLock) {
        this.target = target;
        this.objectLock = objectLock;
    }

    /**
     * Copies {@code sourceBucket/sourceKey} ({@code size} bytes) to the repository key
     * {@code key}.
     *
     * @param multipartThreshold objects larger than this are copied in parts
     * @return the copy's ETag
     * @throws IOException the copy failed; {@link #isAccessDenied} tells a denied read of the source
     */
    String copy(String sourceBucket, String sourceKey, long size, String key, long multipartThreshold)
            throws IOException {
        String full = target.fullKey(key);
        // With s3.object-lock, a copy is retained like the backup that holds it.
        Instant retainUntil = objectLock.retainUntilForUpload(key).orElse(null);
        if (size <= multipartThreshold) {
            String eTag;
            try {
                CopyObjectResponse r = target.client().copyObject(b -> {
                    b.sourceBucket(sourceBucket).sourceKey(sourceKey).destinationBucket(target.name()).destinationKey(full);
                    if (retainUntil != null) {
                        b.objectLockMode(objectLock.headerMode()).objectLockRetainUntilDate(retainUntil);
                    }
                });
                eTag = StoredObject.unquote(r.copyObjectResult().eTag());
            } catch (SdkException e) {
                throw copyFailure(sourceBucket, sourceKey, key, e);
            }
            if (retainUntil != null) {
                objectLock.ensureRetained(key, retainUntil);
            }
            return eTag;
        }
        long partSize = Math.max(S3Repository.MIN_PART_SIZE, (size + 9_999) / 10_000);
        String uploadId;
        try {
            uploadId = target.client().createMultipartUpload(b -> {
                b.bucket(target.name()).key(full);
                if (retainUntil != null) {
                    b.objectLockMode(objectLock.headerMode()).objectLockRetainUntilDate(retainUntil);
                }
            }).uploadId();
        } catch (SdkException e) {
            throw target.errors().failure("start a multipart copy to", key, e);
        }
        boolean done = false;
        try {
            List<CompletedPart> parts = new ArrayList<>();
            int number = 1;
            for (long from = 0; from < size; from += partSize, number++) {
                long end = Math.min(size, from + partSize) - 1;
                int n = number;
                long start = from;
                UploadPartCopyResponse r = target.client().uploadPartCopy(b -> b.sourceBucket(sourceBucket)
                        .sourceKey(sourceKey).destinationBucket(target.name()).destinationKey(full)
                        .uploadId(uploadId).partNumber(n).copySourceRange("bytes=" + start + "-" + end));
                parts.add(CompletedPart.builder().partNumber(n).eTag(r.copyPartResult().eTag()).build());
            }
            String eTag = target.client().completeMultipartUpload(b -> b.bucket(target.name()).key(full)
                    .uploadId(uploadId).multipartUpload(m -> m.parts(parts))).eTag();
            done = true;
            if (retainUntil != null) {
                objectLock.ensureRetained(key, retainUntil);
            }
            return StoredObject.unquote(eTag);
        } catch (SdkException e) {
            throw copyFailure(sourceBucket, sourceKey, key, e);
        } finally {
            if (!done) {
                abort(full, uploadId);
            }
        }
    }

    private void abort(String full, String uploadId) {
        boolean interrupted = Thread.interrupted(); // the client starts no request on an interrupted thread
        try {
            target.client().abortMultipartUpload(b -> b.bucket(target.name()).key(full).uploadId(uploadId));
        } catch (SdkException e) {
            // The create's clean-up of stale uploads removes it later.
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private IOException copyFailure(String sourceBucket, String sourceKey, String key, SdkException e) {
        IOException io = target.errors().failure("copy s3://" + sourceBucket + "/" + sourceKey + " to", key, e);
        return isAccessDenied(e) ? new AccessDenied(io.getMessage(), e) : io;
    }

    static boolean isAccessDenied(Throwable e) {
        return e instanceof software.amazon.awssdk.awscore.exception.AwsServiceException se && se.statusCode() == 403;
    }

    /** The repository's credentials may not read the source (or write the copy): stream it instead. */
    static final class AccessDenied extends IOException {
        private static final long serialVersionUID = 1L;

        AccessDenied(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
