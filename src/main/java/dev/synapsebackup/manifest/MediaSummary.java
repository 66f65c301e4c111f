package dev.synapsebackup.manifest;

import java.util.List;

/**
 * The S3-held media of a backup, without the object records (which are streamed).
 *
 * @param stores  the buckets they came from
 * @param objects how many objects the backup lists
 * @param bytes   their total size
 */
public record MediaSummary(List<MediaStore> stores, long objects, long bytes) {
    /** No S3-held media. */
    public static final MediaSummary NONE = new MediaSummary(List.of(), 0, 0);

    public MediaSummary {
        stores = stores == null ? List.of() : List.copyOf(stores);
    }

    /** Whether the backup has S3-held media stores. */
    public boolean isEmpty() {
        return stores.isEmpty();
    }

    /** The store with that index. */
    public MediaStore store(int index) {
        for (MediaStore s : stores) {
            if (s.index() == index) {
                return s;
            }
        }
        throw new IllegalArgumentException("no media store " + index);
    }
}
