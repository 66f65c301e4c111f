package dev.synapsebackup.cli;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.backup.RepositoryFactory;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.PassphraseSource;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.crypto.Identity;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.crypto.Recipients;
import dev.synapsebackup.repository.Repository;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

/**
 * Shared plumbing of the subcommands: common flags, configuration, output, repository,
 * passphrase. Its {@code @Command} attributes (help and version flags, the heading of the
 * examples) apply to every subclass, which adds its name and texts.
 */
@Command(mixinStandardHelpOptions = true, footerHeading = "%nExamples:%n")
abstract class BaseCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @ParentCommand
    Main main;

    private Output output;
    private ToolConfig config;

    /** What the run produced, for the metrics and the hooks (see {@link Unattended}). */
    final Figures figures = new Figures();

    /** The figures of a run that moved data; {@code backupId} is the backup made or read. */
    static final class Figures {
        String backupId;
        long bytes;
        long files;
    }

    Context ctx() {
        return main.context();
    }

    Output output() {
        if (output == null) {
            output = new Output(ctx().out(), ctx().err(), common.json, common.quiet, common.verbose);
        }
        return output;
    }

    /** The configuration, loaded once per run (the hooks and metrics wrapper reads it first). */
    ToolConfig loadConfig() {
        if (config == null) {
            config = new ConfigLoader(ctx().env(), ctx().defaultConfigFile()).load(common.overrides());
            ConfigLoader.permissionWarnings(config).forEach(output()::warn);
        }
        return config;
    }

    /** The facade over the configured repository; the caller closes it. */
    SynapseBackup openBackup() {
        return SynapseBackup.open(loadConfig());
    }

    /** The configured repository itself, for what the facade does not offer; the caller closes it. */
    Repository openRepository() {
        return RepositoryFactory.open(loadConfig());
    }

    /** The environment variable naming the file that holds the passphrase of {@code --identity}. */
    static final String IDENTITY_PASSPHRASE_FILE = "SYNAPSE_BACKUP_IDENTITY_PASSPHRASE_FILE";

    /**
     * What opens the backups: the secret key {@code identity} if given, else the passphrase. With
     * {@code encryption.recipients} configured and no identity, there is nothing that could.
     */
    Opener opener(Path identity) {
        if (identity != null) {
            ConfigLoader.readableByOthers(identity, "holds the secret key that opens the backups").ifPresent(output()::warn);
            return Identity.load(identity, () -> identityPassphrase(identity));
        }
        if (loadConfig().publicKeyEncryption()) {
            throw new ConfigException("the backups are encrypted to public keys (\"encryption.recipients\"): give"
                    + " --identity FILE, the secret key of one of them");
        }
        return Opener.passphrase(passphrase());
    }

    /** The configured recipients, read and checked. */
    Recipients recipients() {
        return Recipients.load(loadConfig().recipients(), "encryption.recipients");
    }

    /** The passphrase of the secret key {@code identity}: from the file the environment names, else a prompt. */
    private Secret identityPassphrase(Path identity) {
        String file = ctx().env().get(IDENTITY_PASSPHRASE_FILE);
        if (file != null && !file.isEmpty()) {
            ConfigLoader.readableByOthers(Path.of(file), "holds the passphrase of the identity").ifPresent(output()::warn);
            return PassphraseSource.file(Path.of(file), IDENTITY_PASSPHRASE_FILE).read();
        }
        var console = ctx().console();
        if (console == null) {
            throw new ConfigException("the identity " + identity + " is protected by a passphrase: set "
                    + IDENTITY_PASSPHRASE_FILE + " to a file that holds it, or run on a terminal to be asked");
        }
        char[] pass = console.readPassword("Passphrase of the identity %s: ", identity);
        if (pass == null) {
            throw new ConfigException("Missing passphrase of the identity " + identity);
        }
        Secret s = Secret.of(pass);
        Arrays.fill(pass, '\0');
        return s;
    }

    /** The passphrase that opens the existing backups (see {@link #passphrase(boolean)}). */
    Secret passphrase() {
        return passphrase(false);
    }

    /** The passphrase of a new backup: a prompt asks for it twice. */
    Secret confirmedPassphrase() {
        return passphrase(true);
    }

    /**
     * The passphrase: from the configured source, else a prompt without echo when a terminal is
     * attached ({@code confirm}: asked twice, as for a new backup), else an error.
     */
    private Secret passphrase(boolean confirm) {
        ToolConfig config = loadConfig();
        if (config.passphrase().isPresent()) {
            return config.passphrase().get().read();
        }
        var console = ctx().console();
        if (console == null) {
            throw new ConfigException("Missing backup passphrase: set \"passphrase-file\", --passphrase-file,"
                    + " SYNAPSE_BACKUP_PASSPHRASE_FILE or SYNAPSE_BACKUP_PASSPHRASE");
        }
        char[] first = console.readPassword("Backup passphrase: ");
        if (first == null || first.length == 0) {
            throw new ConfigException("Missing backup passphrase");
        }
        if (confirm) {
            char[] second = console.readPassword("Repeat passphrase: ");
            boolean same = second != null && Arrays.equals(first, second);
            if (second != null) {
                Arrays.fill(second, '\0');
            }
            if (!same) {
                Arrays.fill(first, '\0');
                throw new ConfigException("the passphrases do not match");
            }
        }
        Secret s = PassphraseSource.value(Secret.of(first), "prompt").read();
        Arrays.fill(first, '\0');
        return s;
    }
}
