package dev.synapsebackup.cli;

import dev.synapsebackup.backup.ManifestSummary;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ToolConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "show", mixinStandardHelpOptions = true,
        usageHelpAutoWidth = true,
        synopsisHeading = "%nUsage: ",
        descriptionHeading = "%n",
        parameterListHeading = "%nArguments:%n",
        optionListHeading = "%nOptions:%n",
        footerHeading = "%nExamples:%n",
        header = "Summarise a backup's manifest.",
        description = "Decrypts the manifest of backup ID and prints its server name, kind, parent, the data objects"
                + " it needs, the source paths by role, how the database was captured, and the number and size of"
                + " its files.",
        footer = {
            "  synapse-backup show backup-20261122031930123456",
            "  synapse-backup show backup-20261122031930123456 --json"})
final class ShowCommand extends BaseCommand {
    @Parameters(index = "0", paramLabel = "ID", description = "The backup id.")
    String id;

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config = loadConfig();
        try (SynapseBackup sb = SynapseBackup.open(config)) {
            SynapseBackup.ShowResult shown = sb.show(id, passphrase(config, false));
            ManifestSummary s = shown.summary();
            Map<String, Object> objects = new LinkedHashMap<>();
            shown.objects().forEach((k, v) -> objects.put(k, Map.of("files", v[0], "bytes", v[1])));
            if (out.json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("backup-id", s.backupId());
                m.put("format", s.format());
                m.put("created", s.created().toString());
                m.put("tool-version", s.toolVersion());
                m.put("server-name", s.serverName());
                m.put("kind", s.kind());
                m.put("parent", s.parent());
                m.put("full-backup", s.fullBackup());
                m.put("objects", objects);
                m.put("roots", s.roots());
                m.put("database", s.database());
                m.put("files", s.fileCount());
                m.put("total-bytes", s.totalBytes());
                m.put("skipped", s.skipped().stream().map(k -> Map.of("path", k.path(), "reason", k.reason())).toList());
                out.json(m);
                return 0;
            }
            out.result("backup-id:    " + s.backupId());
            out.result("created:      " + s.created());
            out.result("server-name:  " + s.serverName());
            out.result("kind:         " + s.kind() + (s.parent() == null ? "" : " (parent " + s.parent() + ")"));
            out.result("tool-version: " + s.toolVersion() + " (format " + s.format() + ")");
            out.result("files:        " + s.fileCount() + " (" + Sizes.human(s.totalBytes()) + ")");
            shown.objects().forEach((k, v) -> out.result("data object:  " + k + ": " + v[0] + " files ("
                    + Sizes.human(v[1]) + ")" + (k.equals(s.backupId()) ? "" : ", from an earlier backup")));
            out.result("database:     " + s.database());
            for (Map.Entry<String, List<String>> e : s.roots().entrySet()) {
                out.result("roots." + e.getKey() + ": " + String.join(", ", e.getValue()));
            }
            for (ManifestSummary.Skipped k : s.skipped()) {
                out.result("skipped:      " + k.path() + " (" + k.reason() + ")");
            }
            return 0;
        }
    }
}
