package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.retention.Deleter;
import dev.synapsebackup.retention.RetainedException;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "delete",
        header = "Delete a backup.",
        description = "Deletes backup ID, its data object and its manifest, under the repository lock. When other"
                + " backups need files stored in it, the delete is refused (exit code 1) and names them, unless"
                + " --force, which deletes those too after listing them. A backup that the bucket still retains"
                + " (S3 Object Lock), or a dependant of it to delete, is not deleted: exit code 1, naming it and until"
                + " when; nothing is deleted then. Exits with code 4 and"
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
        try (SynapseBackup sb = openBackup()) {
            Deleter.DeleteResult r;
            try {
                r = sb.delete(id, force, this::passphrase, out::info);
            } catch (RetainedException e) {
                if (out.json) {
                    Map<String, Object> doc = new LinkedHashMap<>();
                    doc.put("deleted", List.of());
                    List<Map<String, Object>> retained = new ArrayList<>();
                    e.retained().forEach((b, until) -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("backup-id", b);
                        m.put("retained-until", Output.time(until));
                        retained.add(m);
                    });
                    doc.put("retained", retained);
                    out.json(doc);
                }
                throw e;
            }
            if (out.json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("deleted", r.deleted());
                doc.put("dependants", r.dependants());
                out.json(doc);
            } else {
                for (String d : r.deleted()) {
                    out.info("Deleted " + d + " from " + sb.repository().location());
                }
            }
            return 0;
        }
    }
}
