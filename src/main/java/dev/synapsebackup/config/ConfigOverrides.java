package dev.synapsebackup.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The configuration given on the command line: the highest-precedence source. Every field may be
 * null (or empty) when the flag was not given.
 *
 * @param configFile     {@code --config}
 * @param synapseConfigs {@code --synapse-config} (repeatable)
 * @param repo           {@code --repo}
 * @param bucket         {@code --bucket}
 * @param path           {@code --path}
 * @param region         {@code --region}
 * @param endpoint       {@code --endpoint}
 * @param s3UriStyle     {@code --s3-uri-style}
 * @param passphraseFile {@code --passphrase-file}
 */
public record ConfigOverrides(
        Path configFile,
        List<Path> synapseConfigs,
        Path repo,
        String bucket,
        String path,
        String region,
        String endpoint,
        String s3UriStyle,
        Path passphraseFile) {

    public ConfigOverrides {
        synapseConfigs = synapseConfigs == null ? List.of() : List.copyOf(synapseConfigs);
    }

    /** No flags at all. */
    public static ConfigOverrides none() {
        return new ConfigOverrides(null, List.of(), null, null, null, null, null, null, null);
    }
}
