package dev.synapsebackup.cli;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ToolConfig;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {
            "Restore a backup. --print-command prints the stock-tools pipeline",
            "(aws s3 cp … - | gpg --decrypt … | tar -x -C …) and the AWS_* variables it needs, then exits."})
final class RestoreCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "ID", description = "The backup id.")
    String id;

    @Option(names = "--target", paramLabel = "DIR", description = "Restore into DIR, as tar -x -C DIR would; no service control.")
    Path target;

    @Option(names = "--print-command", description = "Print the stock-tools restore procedure and exit.")
    boolean printCommand;

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config = loadConfig();
        if (!printCommand) {
            throw new SynapseBackupException("restore without --print-command is not available yet in this version;"
                    + " use --print-command for the stock-tools procedure");
        }
        try (SynapseBackup sb = SynapseBackup.open(config)) {
            Path dir = target != null ? target.toAbsolutePath() : Path.of("/tmp/synapse-restore-" + id);
            for (String line : sb.restoreCommand(id, dir)) {
                out.result(line);
            }
            return 0;
        }
    }
}
