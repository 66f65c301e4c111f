package dev.synapsebackup.repository;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.model.MultipartUpload;

/**
 * The multipart uploads under a repository's prefix that were started but neither completed nor
 * aborted: listing them, and aborting the ones nobody can still be writing.
 */
final class MultipartCleanup {
    private final S3Bucket bucket;

    MultipartCleanup(S3Bucket bucket) {
        this.bucket = bucket;
    }

    /** The keys (relative to the prefix) of the incomplete uploads. A clean repository has none. */
    List<String> incomplete() throws IOException {
        List<String> keys = new ArrayList<>();
        forEachUpload("list multipart uploads of", (name, u) -> keys.add(name));
        return keys;
    }

    /** Aborts our own uploads (of backups and manifests) started before {@code olderThan} ago. */
    int removeStale(Duration olderThan) throws IOException {
        Instant cutoff = Instant.now().minus(olderThan);
        int[] aborted = {0};
        forEachUpload("abort stale multipart uploads of", (name, u) -> {
            // Only our own uploads: another program's upload under the prefix is not ours to abort.
            boolean ours = BackupId.isBackupName(name) || name.endsWith(BackupId.MANIFEST_SUFFIX)
                    && BackupId.isBackupName(name.substring(0, name.length() - BackupId.MANIFEST_SUFFIX.length()));
            if (ours && u.initiated() != null && u.initiated().isBefore(cutoff)) {
                abort(u);
                aborted[0]++;
            }
        });
        return aborted[0];
    }

    /** Aborts every incomplete upload, including any still in progress: only under the lock. */
    int abortAll() throws IOException {
        int[] aborted = {0};
        forEachUpload("abort multipart uploads of", (name, u) -> {
            abort(u);
            aborted[0]++;
        });
        return aborted[0];
    }

    private void abort(MultipartUpload u) {
        bucket.client().abortMultipartUpload(b -> b.bucket(bucket.name()).key(u.key()).uploadId(u.uploadId()));
    }

    /** Calls {@code action} with the relative key and the upload of each incomplete upload under the prefix. */
    private void forEachUpload(String failedAction, BiConsumer<String, MultipartUpload> action) throws IOException {
        String keyPrefix = bucket.keyPrefix();
        try {
            for (var page : bucket.client().listMultipartUploadsPaginator(b -> b.bucket(bucket.name()).prefix(keyPrefix))) {
                for (MultipartUpload u : page.uploads()) {
                    if (u.key().startsWith(keyPrefix)) {
                        action.accept(u.key().substring(keyPrefix.length()), u);
                    }
                }
            }
        } catch (SdkException e) {
            throw bucket.errors().failure(failedAction, "", e);
        }
    }
}
