package dev.synapsebackup.repository;

import software.amazon.awssdk.services.s3.S3Client;

/**
 * The bucket and prefix a repository lives in, the client that reaches them, and how their
 * failures read: what the units around {@link S3Repository} (the writer, the conditional put, the
 * multipart clean-up) share, and all they get of it.
 *
 * @param client the S3 client
 * @param name   the bucket's name
 * @param prefix the normalised key prefix, {@code ""} for the bucket's root
 * @param errors translation of the client's failures
 */
record S3Bucket(S3Client client, String name, String prefix, S3Errors errors) {

    /** The full S3 key of a repository-relative key. */
    String fullKey(String key) {
        return fullKey(prefix, key);
    }

    static String fullKey(String prefix, String key) {
        return prefix.isEmpty() ? key : prefix + "/" + key;
    }

    /** What every full key of the repository starts with: {@code prefix/}, or {@code ""}. */
    String keyPrefix() {
        return prefix.isEmpty() ? "" : prefix + "/";
    }
}
