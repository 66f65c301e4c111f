package dev.synapsebackup.cli;

import picocli.CommandLine.Parameters;

/** The one argument of the commands that read a backup: its id. A mixin, so that it reads alike everywhere. */
final class BackupIdArgument {
    @Parameters(index = "0", paramLabel = "ID", description = "The backup id.")
    String id;
}
