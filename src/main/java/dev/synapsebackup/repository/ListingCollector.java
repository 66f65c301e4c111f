package dev.synapsebackup.repository;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Sorts the objects of one listing (media copies skipped) into data objects, manifests, locks and
 * other keys, and makes a {@link RepositoryListing} of them: for {@link AbstractRepository#list}
 * and for the lock, whose own listing serves as the run's listing (see
 * {@link RepositoryLock#takeListing()}).
 */
final class ListingCollector implements Consumer<ObjectInfo> {
    final List<ObjectInfo> data = new ArrayList<>();
    private final Set<String> manifests = new HashSet<>();
    private long others;
    private final List<String> otherKeys = new ArrayList<>();
    /** Whether the listing met copies of S3-held media (true when it could not tell). */
    boolean mediaCopies = true;

    @Override
    public void accept(ObjectInfo o) {
        String key = o.key();
        if (BackupId.isBackupName(key)) {
            data.add(o);
        } else if (key.endsWith(BackupId.MANIFEST_SUFFIX)
                && BackupId.isBackupName(key.substring(0, key.length() - BackupId.MANIFEST_SUFFIX.length()))) {
            manifests.add(key.substring(0, key.length() - BackupId.MANIFEST_SUFFIX.length()));
        } else if (!key.startsWith(BackupId.LOCKS_PREFIX)) {
            // Nested keys and other names: not backups (SPEC §3), so never deleted.
            others++;
            if (otherKeys.size() < RepositoryListing.SAMPLE) {
                otherKeys.add(key);
            }
        }
    }

    /** The listing, with the data objects' {@code metadata} where it was looked up. */
    RepositoryListing build(Map<String, Map<String, String>> metadata) {
        List<BackupEntry> result = new ArrayList<>(data.size());
        for (ObjectInfo o : data) {
            Map<String, String> m = metadata.getOrDefault(o.key(), o.metadata());
            BackupEntry.Status status;
            if (manifests.contains(o.key())) {
                status = BackupEntry.Status.COMPLETE;
            } else {
                status = m.containsKey(BackupId.FORMAT_METADATA) ? BackupEntry.Status.UNFINISHED : BackupEntry.Status.FOREIGN;
            }
            result.add(new BackupEntry(o.key(), o.lastModified(), o.size(), status,
                    m.get(BackupId.KIND_METADATA), m.get(BackupId.PARENT_METADATA)));
        }
        result.sort(Comparator.comparing(BackupEntry::lastModified).thenComparing(BackupEntry::id));
        return new RepositoryListing(result, others, otherKeys, mediaCopies);
    }
}
