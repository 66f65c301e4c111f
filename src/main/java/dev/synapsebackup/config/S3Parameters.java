package dev.synapsebackup.config;

import dev.synapsebackup.ConfigException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Optional;

/**
 * Where and how to reach the S3 bucket, with the names of the charm's s3-integrator. Immutable
 * and validated on construction: an instance always describes a usable configuration (whether
 * the bucket can be reached is a different question, see the repository).
 *
 * <p>{@link #toString()} never shows the secret key.
 */
public final class S3Parameters {
    /** How bucket names go into request URLs. */
    public enum AddressingStyle {
        /** {@code https://endpoint/bucket/key} ({@code s3-uri-style: path}). */
        PATH,
        /** {@code https://bucket.endpoint/key} ({@code s3-uri-style: host}, the default). */
        VIRTUAL
    }

    private final String accessKey;
    private final Secret secretKey;
    private final Secret sessionToken;
    private final String region;
    private final String endpoint;
    private final String bucket;
    private final String path;
    private final String uriStyle;
    private final String profile;
    private final ObjectLock objectLock;

    private S3Parameters(Builder b) {
        String bucketValue = trimToNull(b.bucket);
        if (bucketValue == null) {
            throw new ConfigException("\"bucket\" is required");
        }
        String regionValue = trimToNull(b.region);
        String endpointValue = trimToNull(b.endpoint);
        if (regionValue == null && endpointValue == null) {
            throw new ConfigException("one of \"region\" or \"endpoint\" needs to be set");
        }
        if (endpointValue != null) {
            validateEndpoint(endpointValue);
        }
        String style = trimToNull(b.uriStyle) == null ? "host" : b.uriStyle.trim().toLowerCase(Locale.ROOT);
        if (!style.equals("path") && !style.equals("host")) {
            throw new ConfigException("\"s3-uri-style\" must be \"path\" or \"host\", not \"" + b.uriStyle + "\"");
        }
        String access = trimToNull(b.accessKey);
        boolean hasSecret = b.secretKey != null && !b.secretKey.isEmpty();
        if ((access == null) != !hasSecret) {
            throw new ConfigException(access == null
                    ? "\"secret-key\" is set but \"access-key\" is not: set both or neither"
                    : "\"access-key\" is set but \"secret-key\" is not: set both or neither");
        }
        this.accessKey = access;
        this.secretKey = hasSecret ? b.secretKey : null;
        this.sessionToken = b.sessionToken != null && !b.sessionToken.isEmpty() ? b.sessionToken : null;
        this.region = regionValue;
        this.endpoint = endpointValue;
        this.bucket = bucketValue;
        this.path = b.path == null ? "" : b.path;
        this.uriStyle = style;
        this.profile = trimToNull(b.profile);
        this.objectLock = b.objectLock;
    }

    private static void validateEndpoint(String endpoint) {
        URI uri;
        try {
            uri = new URI(endpoint);
        } catch (URISyntaxException e) {
            throw new ConfigException("\"endpoint\" is not a valid URL: " + endpoint);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
            throw new ConfigException("\"endpoint\" must be an http:// or https:// URL, not \"" + endpoint + "\"");
        }
    }

    private static String trimToNull(String s) {
        if (s == null) {
            return null;
        }
        String t = s.trim();
        return t.isEmpty() ? null : t;
    }

    /** A new, empty builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from this instance's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.accessKey = accessKey;
        b.secretKey = secretKey;
        b.sessionToken = sessionToken;
        b.region = region;
        b.endpoint = endpoint;
        b.bucket = bucket;
        b.path = path;
        b.uriStyle = uriStyle;
        b.profile = profile;
        b.objectLock = objectLock;
        return b;
    }

    /** The access key id, if static credentials are configured. */
    public Optional<String> accessKey() {
        return Optional.ofNullable(accessKey);
    }

    /** The secret access key, if static credentials are configured. */
    public Optional<Secret> secretKey() {
        return Optional.ofNullable(secretKey);
    }

    /** The session token for temporary credentials, if any. */
    public Optional<Secret> sessionToken() {
        return Optional.ofNullable(sessionToken);
    }

    /** The region, if set. */
    public Optional<String> region() {
        return Optional.ofNullable(region);
    }

    /** The region to sign requests for: the configured one, else {@code us-east-1}. */
    public String effectiveRegion() {
        return region != null ? region : "us-east-1";
    }

    /** The endpoint URL, if set (else AWS's own endpoint for the region). */
    public Optional<String> endpoint() {
        return Optional.ofNullable(endpoint);
    }

    /** The bucket name. */
    public String bucket() {
        return bucket;
    }

    /** The path as configured (see {@link #prefix()} for the normalised form). */
    public String path() {
        return path;
    }

    /** The key prefix: {@link #path()} with leading/trailing {@code /} removed and {@code //} collapsed. */
    public String prefix() {
        return normalizePrefix(path);
    }

    /** {@code path} or {@code host}, as configured. */
    public String uriStyle() {
        return uriStyle;
    }

    /** The AWS profile to take credentials from, if set. */
    public Optional<String> profile() {
        return Optional.ofNullable(profile);
    }

    /** The retention every data object and manifest is written with ({@code s3.object-lock}), if configured. */
    public Optional<ObjectLock> objectLock() {
        return Optional.ofNullable(objectLock);
    }

    /** {@link AddressingStyle#PATH} for {@code s3-uri-style: path}, else {@link AddressingStyle#VIRTUAL}. */
    public AddressingStyle addressingStyle() {
        return uriStyle.equals("path") ? AddressingStyle.PATH : AddressingStyle.VIRTUAL;
    }

    /** {@code s3://bucket/prefix}, for messages. */
    public String location() {
        String p = prefix();
        return "s3://" + bucket + (p.isEmpty() ? "" : "/" + p);
    }

    /**
     * Normalises an object-key prefix as the charm does for MinIO: leading and trailing {@code /}
     * removed, runs of {@code /} collapsed to one.
     */
    public static String normalizePrefix(String path) {
        if (path == null) {
            return "";
        }
        String collapsed = path.replaceAll("/+", "/");
        int start = 0;
        int end = collapsed.length();
        while (start < end && collapsed.charAt(start) == '/') {
            start++;
        }
        while (end > start && collapsed.charAt(end - 1) == '/') {
            end--;
        }
        return collapsed.substring(start, end);
    }

    @Override
    public String toString() {
        return "S3Parameters{bucket=" + bucket + ", path=" + path + ", region=" + region + ", endpoint=" + endpoint
                + ", s3-uri-style=" + uriStyle + ", access-key=" + (accessKey == null ? "<default chain>" : accessKey)
                + ", secret-key=" + (secretKey == null ? "<none>" : "****")
                + (objectLock == null ? "" : ", object-lock=" + objectLock) + "}";
    }

    /** Collects values; {@link #build()} validates them. */
    public static final class Builder {
        private String accessKey;
        private Secret secretKey;
        private Secret sessionToken;
        private String region;
        private String endpoint;
        private String bucket;
        private String path;
        private String uriStyle;
        private String profile;
        private ObjectLock objectLock;

        private Builder() {
        }

        public Builder accessKey(String v) {
            this.accessKey = v;
            return this;
        }

        public Builder secretKey(Secret v) {
            this.secretKey = v;
            return this;
        }

        public Builder sessionToken(Secret v) {
            this.sessionToken = v;
            return this;
        }

        public Builder region(String v) {
            this.region = v;
            return this;
        }

        public Builder endpoint(String v) {
            this.endpoint = v;
            return this;
        }

        public Builder bucket(String v) {
            this.bucket = v;
            return this;
        }

        public Builder path(String v) {
            this.path = v;
            return this;
        }

        public Builder uriStyle(String v) {
            this.uriStyle = v;
            return this;
        }

        public Builder profile(String v) {
            this.profile = v;
            return this;
        }

        /** Object Lock retention for new backups; null for none. */
        public Builder objectLock(ObjectLock v) {
            this.objectLock = v;
            return this;
        }

        /** Validates and builds; throws {@link ConfigException} naming the offending key. */
        public S3Parameters build() {
            return new S3Parameters(this);
        }

        @Override
        public String toString() {
            return "S3Parameters.Builder{bucket=" + bucket + ", secret-key=" + (secretKey == null ? "<none>" : "****") + "}";
        }
    }
}
