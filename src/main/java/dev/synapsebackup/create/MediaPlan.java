package dev.synapsebackup.create;

import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3MediaBucket;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.repository.StoredObject;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.S3MediaProvider;
import dev.synapsebackup.synapse.SynapseSources;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Where a homeserver's media live, for {@code create --dry-run}: the local media store, and each
 * bucket of synapse-s3-storage-provider with what a backup would copy from it (listed, counted;
 * nothing is copied).
 *
 * @param localStore the media store directory ({@code media_store_path})
 * @param localRoots the media directories in it that a backup archives
 * @param stores     the S3 buckets
 * @param encrypted  {@code media-encryption}: every object is streamed and stored OpenPGP-encrypted
 */
public record MediaPlan(Path localStore, List<Path> localRoots, List<Store> stores, boolean encrypted) {

    /**
     * One S3 bucket.
     *
     * @param location          {@code s3://bucket/prefix} and endpoint
     * @param keyPrefixes       what is copied from it
     * @param configCredentials whether homeserver.yaml gives credentials (else the AWS default chain)
     * @param serverSide        whether the repository is on the same endpoint (copies server-side
     *                          when its credentials may read the bucket)
     * @param storeLocal        the provider's {@code store_local}
     * @param objects           objects under the key prefixes
     * @param bytes             their total size
     */
    public record Store(String location, List<String> keyPrefixes, boolean configCredentials, boolean serverSide,
                        boolean storeLocal, long objects, long bytes) {
    }

    /** Lists each bucket to count what a backup would copy. */
    public static MediaPlan of(HomeserverConfig homeserver, Repository repo, boolean includeRemoteMedia) {
        return of(homeserver, repo, includeRemoteMedia, false);
    }

    /** As {@link #of(HomeserverConfig, Repository, boolean)}; {@code encrypt}: nothing is copied server-side. */
    public static MediaPlan of(HomeserverConfig homeserver, Repository repo, boolean includeRemoteMedia,
            boolean encrypt) {
        SynapseSources sources = SynapseSources.of(homeserver, includeRemoteMedia);
        List<Store> stores = new ArrayList<>();
        for (S3MediaProvider p : MediaCopier.ordered(homeserver.s3MediaProviders())) {
            try (S3MediaBucket bucket = new S3MediaBucket(p.toParameters(), null, 2, 1000)) {
                long objects = 0;
                long bytes = 0;
                for (String prefix : p.keyPrefixes(includeRemoteMedia)) {
                    Iterator<StoredObject> it = bucket.list(prefix);
                    while (it.hasNext()) {
                        objects++;
                        bytes += it.next().size();
                    }
                }
                stores.add(new Store(p.location(), p.keyPrefixes(includeRemoteMedia), p.hasCredentials(),
                        !encrypt && repo instanceof S3Repository s3 && s3.sameEndpointAs(bucket), p.storeLocal(),
                        objects, bytes));
            }
        }
        return new MediaPlan(sources.mediaStore(), sources.mediaRoots(), stores, encrypt);
    }
}
