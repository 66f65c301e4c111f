package dev.synapsebackup.synapse;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One {@code media_storage_providers} entry of homeserver.yaml whose module is
 * synapse-s3-storage-provider's {@value #MODULE}: where Synapse keeps (a copy of) its media in S3.
 *
 * <p>The provider stores a media file under {@code prefix + <path in the media store>} (no
 * separator is added), for example {@code media/local_content/ab/cd/efgh} with {@code prefix:
 * media/}. {@link #toString()} and every message leave the secret key and session token out.
 *
 * @param index            position among the S3 providers, in configuration order
 * @param bucket           {@code config.bucket}
 * @param region           {@code config.region_name}, or null
 * @param endpoint         {@code config.endpoint_url}, or null (AWS)
 * @param accessKeyId      {@code config.access_key_id}, or null (the AWS default chain)
 * @param secretAccessKey  {@code config.secret_access_key}, or null
 * @param sessionToken     {@code config.session_token}, or null
 * @param prefix           {@code config.prefix}, {@code ""} when unset
 * @param storageClass     {@code config.storage_class}, or null (the store's default)
 * @param storeLocal       {@code store_local}: local media is written to the bucket
 * @param storeRemote      {@code store_remote}: cached remote media is written to the bucket
 * @param storeSynchronous {@code store_synchronous}: Synapse waits for the upload
 */
public record S3MediaProvider(int index, String bucket, String region, String endpoint, String accessKeyId,
                              Secret secretAccessKey, Secret sessionToken, String prefix, String storageClass,
                              boolean storeLocal, boolean storeRemote, boolean storeSynchronous) {
    /** The provider's module name in homeserver.yaml. */
    public static final String MODULE = "s3_storage_provider.S3StorageProviderBackend";

    public S3MediaProvider {
        prefix = prefix == null ? "" : prefix;
    }

    /**
     * The S3 providers among {@code media_storage_providers} ({@code value}, null when unset), in
     * configuration order; other providers are ignored.
     *
     * @param where names the key and its file in messages
     */
    static List<S3MediaProvider> parse(Object value, String where) {
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof List<?> list)) {
            throw new ConfigException(where + "\"media_storage_providers\" must be a list");
        }
        List<S3MediaProvider> providers = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String key = "media_storage_providers[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> entry)) {
                throw new ConfigException(where + "\"" + key + "\" must be a mapping");
            }
            if (!MODULE.equals(entry.get("module"))) {
                continue;
            }
            Object c = entry.get("config");
            if (!(c instanceof Map<?, ?> config)) {
                throw new ConfigException(where + "\"" + key + ".config\" must be a mapping");
            }
            String bucket = string(config, "bucket", key, where);
            if (bucket == null || bucket.isBlank()) {
                throw new ConfigException(where + "\"" + key + ".config.bucket\" is required");
            }
            String secret = string(config, "secret_access_key", key, where);
            String token = string(config, "session_token", key, where);
            S3MediaProvider p = new S3MediaProvider(providers.size(), bucket,
                    string(config, "region_name", key, where), string(config, "endpoint_url", key, where),
                    string(config, "access_key_id", key, where),
                    secret == null ? null : Secret.of(secret), token == null ? null : Secret.of(token),
                    string(config, "prefix", key, where), string(config, "storage_class", key, where),
                    bool(entry, "store_local", true, key, where), bool(entry, "store_remote", false, key, where),
                    bool(entry, "store_synchronous", false, key, where));
            for (S3MediaProvider other : providers) {
                if (other.bucket.equals(p.bucket) && Objects.equals(other.endpoint, p.endpoint)) {
                    throw new ConfigException(where + "\"" + key + "\": two S3 media storage providers use bucket \""
                            + bucket + "\"; only one provider per bucket is supported");
                }
            }
            p.toParameters(); // validated now, with the key named
            providers.add(p);
        }
        return List.copyOf(providers);
    }

    private static String string(Map<?, ?> config, String name, String key, String where) {
        Object v = config.get(name);
        if (v == null) {
            return null;
        }
        if (v instanceof Map || v instanceof List) {
            // Never echo the value: it may be a secret.
            throw new ConfigException(where + "\"" + key + ".config." + name + "\" must be a single value");
        }
        return String.valueOf(v);
    }

    private static boolean bool(Map<?, ?> entry, String name, boolean dflt, String key, String where) {
        Object v = entry.get(name);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean b)) {
            throw new ConfigException(where + "\"" + key + "." + name + "\" must be true or false");
        }
        return b;
    }

    /**
     * How to reach the bucket: the provider's own credentials when it has them, else the AWS
     * default chain (environment, {@code ~/.aws}, instance role), as boto3 does. Path-style
     * addressing with an {@code endpoint_url} (S3-compatible stores), virtual-hosted without.
     */
    public S3Parameters toParameters() {
        try {
            return S3Parameters.builder()
                    .bucket(bucket)
                    .region(region != null ? region : endpoint == null ? "us-east-1" : null)
                    .endpoint(endpoint)
                    .uriStyle(endpoint != null ? "path" : "host")
                    .accessKey(accessKeyId)
                    .secretKey(secretAccessKey)
                    .sessionToken(sessionToken)
                    .build();
        } catch (ConfigException e) {
            throw new ConfigException("media_storage_providers (" + MODULE + ", bucket " + bucket + "): "
                    + e.getMessage(), e);
        }
    }

    /** Whether the provider's config carries credentials (else the AWS default chain is used). */
    public boolean hasCredentials() {
        return accessKeyId != null;
    }

    /**
     * The media directories of SPEC §4 that a backup copies from this bucket, as full key
     * prefixes in key order: {@code local_content/} and {@code local_thumbnails/}, and the
     * {@code remote_*} ones when remote media is included. The {@code store_*} flags are not
     * consulted: they only decide where Synapse writes new media, while the provider serves
     * whatever the bucket holds (media uploaded by {@code s3_media_upload}, or before a flag
     * changed), and a restore must bring that back.
     */
    public List<String> keyPrefixes(boolean includeRemoteMedia) {
        List<String> dirs = new ArrayList<>(SynapseSources.LOCAL_MEDIA_DIRS);
        if (includeRemoteMedia) {
            dirs.addAll(SynapseSources.REMOTE_MEDIA_DIRS);
        }
        return dirs.stream().sorted().map(d -> prefix + d + "/").toList();
    }

    /** {@code s3://bucket/prefix} at the endpoint, for messages. */
    public String location() {
        return "s3://" + bucket + "/" + prefix + (endpoint == null ? "" : " at " + endpoint);
    }

    /** The endpoint, if one is configured. */
    public Optional<String> endpointUrl() {
        return Optional.ofNullable(endpoint);
    }

    @Override
    public String toString() {
        return "S3MediaProvider[bucket=" + bucket + ", prefix=" + prefix + ", region=" + region + ", endpoint="
                + endpoint + ", access-key=" + (accessKeyId == null ? "<default chain>" : accessKeyId)
                + ", secret-key=" + (secretAccessKey == null ? "<none>" : "****")
                + ", session-token=" + (sessionToken == null ? "<none>" : "****")
                + ", storage-class=" + storageClass + ", store_local=" + storeLocal + ", store_remote=" + storeRemote
                + ", store_synchronous=" + storeSynchronous + "]";
    }
}
