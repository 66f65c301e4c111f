package dev.synapsebackup.cli;

import dev.synapsebackup.backup.RepositoryFactory;
import dev.synapsebackup.repository.Repository;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "delete", mixinStandardHelpOptions = true,
        description = {"Delete a backup: its data object and its manifest.",
            "Exit 4 with \"backup-id ID does not exist\" when there is no such backup."})
final class DeleteCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "ID", description = "The backup id, as `list` shows it.")
    String id;

    @Override
    public Integer call() {
        Output out = output();
        try (Repository repo = RepositoryFactory.open(loadConfig())) {
            repo.delete(id);
            if (out.json) {
                out.json(Map.of("deleted", id));
            } else {
                out.info("Deleted " + id + " from " + repo.location());
            }
            return 0;
        }
    }
}
