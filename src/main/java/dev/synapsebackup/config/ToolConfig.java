package dev.synapsebackup.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The tool's resolved configuration: every source (flags, environment, config file, defaults)
 * already merged and validated by {@link ConfigLoader}. Exactly one of {@link #repositoryDir()}
 * and {@link #s3()} is present.
 *
 * @param synapseConfigs   Synapse's config files or directories, in the order given
 * @param repositoryDir    a local directory repository
 * @param s3               S3 parameters
 * @param passphrase       where the passphrase comes from, if configured
 * @param stopCommand      how to stop Synapse around a live restore (empty: not configured)
 * @param startCommand     how to start Synapse again (empty: not configured)
 * @param fullEvery        how old the last full backup may get before {@code create} makes a new one
 * @param configFile       the tool config file that was read, if any
 * @param postgresAdmin    an admin connection for PostgreSQL restores (config {@code postgres:}), if configured
 * @param notifications    metrics file, hooks and ping URL for unattended runs
 * @param recipients       public key files every object is encrypted to (config
 *                         {@code encryption.recipients}); empty: the passphrase scheme
 * @param stateDirectory   where {@code create} keeps the newest manifest when it cannot decrypt it
 *                         (config {@code state-directory})
 * @param mediaCopyParallelism copies of media held in S3 in flight ({@code media-copy-parallelism}, default 8)
 * @param mediaEncryption  whether media held in S3 are streamed through the host and stored as
 *                         OpenPGP messages ({@code media-encryption}, default false)
 */
public record ToolConfig(
        List<Path> synapseConfigs,
        Optional<Path> repositoryDir,
        Optional<S3Parameters> s3,
        Optional<PassphraseSource> passphrase,
        List<String> stopCommand,
        List<String> startCommand,
        Duration fullEvery,
        Optional<Path> configFile,
        Optional<PostgresAdmin> postgresAdmin,
        Notifications notifications,
        List<Path> recipients,
        Path stateDirectory,
        int mediaCopyParallelism,
        boolean mediaEncryption) {

    /** Synapse's default config path on Debian and in the packages. */
    public static final Path DEFAULT_SYNAPSE_CONFIG = Path.of("/etc/matrix-synapse/homeserver.yaml");
    /** The tool's default config file. */
    public static final Path DEFAULT_CONFIG_FILE = Path.of("/etc/synapse-backup/config.yaml");
    /** The default of {@code state-directory}. */
    public static final Path DEFAULT_STATE_DIRECTORY = Path.of("/var/lib/synapse-backup");

    /** Default of {@code media-copy-parallelism}. */
    public static final int DEFAULT_MEDIA_COPY_PARALLELISM = 8;

    public ToolConfig {
        synapseConfigs = List.copyOf(synapseConfigs);
        stopCommand = List.copyOf(stopCommand);
        startCommand = List.copyOf(startCommand);
        notifications = notifications == null ? Notifications.NONE : notifications;
        recipients = recipients == null ? List.of() : List.copyOf(recipients);
        stateDirectory = stateDirectory == null ? DEFAULT_STATE_DIRECTORY : stateDirectory;
        mediaCopyParallelism = mediaCopyParallelism < 1 ? DEFAULT_MEDIA_COPY_PARALLELISM : mediaCopyParallelism;
    }

    /** A passphrase-scheme configuration (no {@code encryption.recipients}), default {@code media-copy-parallelism}. */
    public ToolConfig(List<Path> synapseConfigs, Optional<Path> repositoryDir, Optional<S3Parameters> s3,
            Optional<PassphraseSource> passphrase, List<String> stopCommand, List<String> startCommand,
            Duration fullEvery, Optional<Path> configFile, Optional<PostgresAdmin> postgresAdmin,
            Notifications notifications) {
        this(synapseConfigs, repositoryDir, s3, passphrase, stopCommand, startCommand, fullEvery, configFile,
                postgresAdmin, notifications, List.of(), DEFAULT_STATE_DIRECTORY, DEFAULT_MEDIA_COPY_PARALLELISM, false);
    }

    /** Whether objects are encrypted to public keys rather than with the passphrase. */
    public boolean publicKeyEncryption() {
        return !recipients.isEmpty();
    }

    /** The same configuration with another state directory (flag {@code --state-directory}). */
    public ToolConfig withStateDirectory(Path dir) {
        return new ToolConfig(synapseConfigs, repositoryDir, s3, passphrase, stopCommand, startCommand, fullEvery,
                configFile, postgresAdmin, notifications, recipients, dir, mediaCopyParallelism, mediaEncryption);
    }

    /** A configuration without a PostgreSQL admin connection, metrics, hooks or ping. */
    public ToolConfig(List<Path> synapseConfigs, Optional<Path> repositoryDir, Optional<S3Parameters> s3,
            Optional<PassphraseSource> passphrase, List<String> stopCommand, List<String> startCommand,
            Duration fullEvery, Optional<Path> configFile) {
        this(synapseConfigs, repositoryDir, s3, passphrase, stopCommand, startCommand, fullEvery, configFile,
                Optional.empty(), Notifications.NONE);
    }

    /** Where the repository is, for messages. */
    public String repositoryLocation() {
        return s3.map(S3Parameters::location).orElseGet(() -> repositoryDir.map(Path::toString).orElse("?"));
    }
}
