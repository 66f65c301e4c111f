package dev.synapsebackup.cli;

import dev.synapsebackup.config.ConfigOverrides;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The flags every command accepts (SPEC §1). There is deliberately no flag for a secret. */
public final class CommonOptions {
    @Option(names = "--config", paramLabel = "FILE",
            description = {"The tool's config file.", "Default: /etc/synapse-backup/config.yaml if present."})
    Path config;

    @Option(names = "--synapse-config", paramLabel = "FILE|DIR",
            description = "Synapse's homeserver.yaml, or a directory of *.yaml; repeatable (env SYNAPSE_CONFIG_PATH).")
    List<Path> synapseConfigs = new ArrayList<>();

    @Option(names = "--repo", paramLabel = "DIR",
            description = "Local directory repository (env SYNAPSE_BACKUP_REPOSITORY); excludes the S3 options.")
    Path repo;

    @Option(names = "--bucket", paramLabel = "NAME", description = "S3 bucket (env SYNAPSE_BACKUP_BUCKET).")
    String bucket;

    @Option(names = "--path", paramLabel = "PREFIX", description = "Key prefix inside the bucket (env SYNAPSE_BACKUP_PATH).")
    String path;

    @Option(names = "--region", paramLabel = "NAME", description = "S3 region (env AWS_REGION, AWS_DEFAULT_REGION).")
    String region;

    @Option(names = "--endpoint", paramLabel = "URL", description = "S3 endpoint URL (env AWS_ENDPOINT_URL).")
    String endpoint;

    @Option(names = "--s3-uri-style", paramLabel = "path|host",
            description = "path: path-style URLs; host (default): virtual-hosted (env SYNAPSE_BACKUP_S3_URI_STYLE).")
    String s3UriStyle;

    @Option(names = "--passphrase-file", paramLabel = "FILE",
            description = "File whose first line is the passphrase (env SYNAPSE_BACKUP_PASSPHRASE_FILE).")
    Path passphraseFile;

    @Option(names = "--metrics-file", paramLabel = "FILE",
            description = "Write Prometheus metrics of this run into FILE (config key metrics-file), e.g. for node_exporter's textfile collector.")
    Path metricsFile;

    @Option(names = "--json", description = "Print one JSON document on stdout.")
    boolean json;

    @Option(names = "--quiet", description = "No progress or informational messages; results are still printed.")
    boolean quiet;

    @Option(names = "--verbose", description = "More detail on stderr, and stack traces on errors.")
    boolean verbose;

    /** The flags as the config loader takes them. */
    ConfigOverrides overrides() {
        return new ConfigOverrides(config, synapseConfigs, repo, bucket, path, region, endpoint, s3UriStyle, passphraseFile);
    }
}
