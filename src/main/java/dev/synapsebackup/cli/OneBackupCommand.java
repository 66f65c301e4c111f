package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.crypto.Opener;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A command that reads one backup, named by its id, through the facade: show, verify, restore. */
abstract class OneBackupCommand extends BaseCommand {
    @Mixin
    BackupIdArgument backup;

    @Option(names = "--identity", paramLabel = "FILE",
            description = "The OpenPGP secret key (gpg --export-secret-keys, armored or binary) that opens backups"
                    + " encrypted to public keys (encryption.recipients). Its passphrase, if any: from the file named by"
                    + " SYNAPSE_BACKUP_IDENTITY_PASSPHRASE_FILE, else a prompt.")
    Path identity;

    /** What opens this backup's objects: the --identity secret key, else the passphrase. */
    Opener opener() {
        return opener(identity);
    }

    @Override
    public final Integer call() {
        Output out = output();
        try (SynapseBackup sb = openBackup()) {
            return run(sb, backup.id, out);
        }
    }

    /** Does the command's work on backup {@code id}; returns the exit code. */
    abstract int run(SynapseBackup sb, String id, Output out);
}
