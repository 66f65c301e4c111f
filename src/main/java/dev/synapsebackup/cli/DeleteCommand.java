package dev.synapsebackup.cli;

import dev.synapsebackup.backup.RepositoryFactory;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.manifest.ManifestDependencyReader;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.retention.Deleter;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "delete", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        header = "Delete a backup.",
        description = "Deletes backup ID, its data object and its manifest, under the repository lock. When other"
                + " backups need files stored in it, the delete is refused (exit code 1) and names them, unless"
                + " --force, which deletes those too after listing them. Exits with code 4 and"
                + " \"backup-id ID does not exist\" when there is no such backup.",
        footer = {
            "  synapse-backup delete backup-20261122031930123456"})
final class DeleteCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "ID", description = "The backup id, as `list` shows it.")
    String id;

    @Option(names = "--force", description = "Also delete the backups that depend on this one.")
    boolean force;

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config = loadConfig();
        try (Repository repo = RepositoryFactory.open(config)) {
            Deleter.DeleteResult r = Deleter.delete(repo, id, force,
                    new ManifestDependencyReader(repo, () -> passphrase(config, false), null), Clock.systemUTC(), out::info);
            if (out.json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("deleted", r.deleted());
                doc.put("dependants", r.dependants());
                out.json(doc);
            } else {
                for (String d : r.deleted()) {
                    out.info("Deleted " + d + " from " + repo.location());
                }
            }
            return 0;
        }
    }
}
