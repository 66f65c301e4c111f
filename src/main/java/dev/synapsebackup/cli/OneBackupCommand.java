package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import picocli.CommandLine.Mixin;

/** A command that reads one backup, named by its id, through the facade: show, verify, restore. */
abstract class OneBackupCommand extends BaseCommand {
    @Mixin
    BackupIdArgument backup;

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
