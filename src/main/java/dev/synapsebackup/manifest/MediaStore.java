package dev.synapsebackup.manifest;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a backup's S3-held media came from (a {@code media-stores} entry of the manifest): the
 * location of one synapse-s3-storage-provider bucket, never its credentials.
 *
 * @param index      the number {@link MediaObject#store()} refers to
 * @param endpoint   the endpoint URL, or null for AWS
 * @param region     the region, or null
 * @param bucket     the bucket
 * @param prefix     the provider's key prefix ({@code ""} for none)
 * @param keyPrefixes the key prefixes that were copied (media directories, in key order)
 */
public record MediaStore(int index, String endpoint, String region, String bucket, String prefix,
                         java.util.List<String> keyPrefixes) {
    public MediaStore {
        keyPrefixes = keyPrefixes == null ? java.util.List.of() : java.util.List.copyOf(keyPrefixes);
    }

    Map<String, Object> toManifest() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", index);
        m.put("module", "s3_storage_provider.S3StorageProviderBackend");
        m.put("endpoint", endpoint);
        m.put("region", region);
        m.put("bucket", bucket);
        m.put("prefix", prefix);
        m.put("key-prefixes", keyPrefixes);
        return m;
    }

    @SuppressWarnings("unchecked")
    static MediaStore fromManifest(Map<String, Object> m) {
        return new MediaStore(((Number) m.get("index")).intValue(), (String) m.get("endpoint"),
                (String) m.get("region"), (String) m.get("bucket"), (String) m.getOrDefault("prefix", ""),
                (java.util.List<String>) m.get("key-prefixes"));
    }

    /** {@code s3://bucket/prefix}, with the endpoint when there is one. */
    public String location() {
        return "s3://" + bucket + "/" + prefix + (endpoint == null ? "" : " at " + endpoint);
    }
}
