package dev.synapsebackup.repository;

/**
 * An object as a listing names it, with its ETag.
 *
 * @param key  its key (full key in a media bucket; repository-relative in a repository)
 * @param size bytes
 * @param eTag its ETag with the quotes removed, or null when the store gives none (a local repository)
 */
public record StoredObject(String key, long size, String eTag) {
    /** An ETag without the quotes S3 puts around it. */
    static String unquote(String eTag) {
        if (eTag == null) {
            return null;
        }
        return eTag.length() >= 2 && eTag.startsWith("\"") && eTag.endsWith("\"")
                ? eTag.substring(1, eTag.length() - 1) : eTag;
    }
}
