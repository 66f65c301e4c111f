package dev.synapsebackup.manifest;

import java.util.Comparator;

/**
 * One S3-held media object of a backup (a {@code media-objects} record of the manifest).
 *
 * @param store      the {@link MediaStore#index()} of its bucket
 * @param bucket     that store's bucket (not stored in the record; filled in from the store)
 * @param key        its full key in that bucket
 * @param size       bytes
 * @param eTag       the source object's ETag when it was copied (what the next backup compares)
 * @param storedETag the repository copy's ETag when the store gave it (a server-side copy), else null
 * @param sha256     lower-case hex SHA-256 when the bytes went through the host, else null
 * @param backup     the backup that holds the copy ({@code media/<backup>/<bucket>/<key>})
 * @param encrypted  whether the copy is an OpenPGP message ({@code media-encryption}); {@code size}
 *                   and {@code sha256} are then those of the plaintext
 * @param storedSize the copy's size in the repository when it is encrypted, else -1
 */
public record MediaObject(int store, String bucket, String key, long size, String eTag, String storedETag,
                          String sha256, String backup, boolean encrypted, long storedSize) {

    /** A record of a copy stored as it is (not encrypted). */
    public MediaObject(int store, String bucket, String key, long size, String eTag, String storedETag,
            String sha256, String backup) {
        this(store, bucket, key, size, eTag, storedETag, sha256, backup, false, -1);
    }

    /** The size the copy has in the repository. */
    public long repositorySize() {
        return encrypted ? storedSize : size;
    }

    /** Where the repository keeps the copy held by backup {@code holder}. */
    public static String repositoryKey(String holder, String bucket, String key) {
        return MEDIA_PREFIX + holder + "/" + bucket + "/" + key;
    }

    /** The repository key of this record's copy. */
    public String repositoryKey() {
        return repositoryKey(backup, bucket, key);
    }

    /** The top-level repository directory for media copies. */
    public static final String MEDIA_PREFIX = "media/";

    /** What every copy held by backup {@code holder} starts with. */
    public static String holderPrefix(String holder) {
        return MEDIA_PREFIX + holder + "/";
    }

    /** {@code bucket + "/" + key}: the order of records, of listings under a holder prefix. */
    public String name() {
        return bucket + "/" + key;
    }

    /**
     * The order of S3 listings: UTF-8 byte order, which is code point order (Java's
     * {@link String#compareTo} compares UTF-16 units, which differs above U+FFFF).
     */
    public static final Comparator<String> KEY_ORDER = (a, b) -> {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    };

    /** This record held by {@code holder} (when the holder was not written, the backup itself). */
    public MediaObject withBackup(String holder) {
        return new MediaObject(store, bucket, key, size, eTag, storedETag, sha256, holder, encrypted, storedSize);
    }
}
