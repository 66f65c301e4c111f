package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.manifest.ManifestSummary;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "show",
        header = "Summarise a backup's manifest.",
        description = "Decrypts the manifest of backup ID and prints its server name, kind, parent, the data objects"
                + " it needs, the source paths by role, how the database was captured, and the number and size of"
                + " its files.",
        footer = {
            "  synapse-backup show backup-20261122031930123456",
            "  synapse-backup show backup-20261122031930123456 --json"})
final class ShowCommand extends BaseCommand {
    @Mixin
    BackupIdArgument backup;

    @Override
    public Integer call() {
        Output out = output();
        try (SynapseBackup sb = openBackup()) {
            SynapseBackup.ShowResult shown = sb.show(backup.id, passphrase());
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
                m.put("directories", s.directories().stream().map(d -> {
                    Map<String, Object> dm = new LinkedHashMap<>();
                    dm.put("path", "/" + d.path());
                    dm.put("mode", String.format("%04o", d.mode()));
                    dm.put("uid", d.uid());
                    dm.put("gid", d.gid());
                    dm.put("owner", d.owner());
                    dm.put("group", d.group());
                    return dm;
                }).toList());
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
            databaseLines(s.database(), shown.databaseBytes()).forEach(out::result);
            for (Map.Entry<String, List<String>> e : s.roots().entrySet()) {
                out.result("roots." + e.getKey() + ": " + String.join(", ", e.getValue()));
            }
            for (var d : s.directories()) {
                out.result("directory:    /" + d.path() + " " + d.describe());
            }
            for (ManifestSummary.Skipped k : s.skipped()) {
                out.result("skipped:      " + k.path() + " (" + k.reason() + ")");
            }
            return 0;
        }
    }

    /** The manifest's database facts as readable lines: engine, method, size, schema version, checks. */
    static List<String> databaseLines(Map<String, Object> db, long bytes) {
        List<String> lines = new java.util.ArrayList<>();
        if (db.isEmpty()) {
            lines.add("database:     none recorded");
            return lines;
        }
        String engine = String.valueOf(db.get("engine"));
        String size = bytes < 0 ? "unknown" : Sizes.human(bytes) + " (" + bytes + " bytes)";
        if ("postgresql".equals(engine)) {
            lines.add("database:     PostgreSQL database " + db.get("dbname") + " on "
                    + (db.get("host") == null ? "the local socket" : db.get("host")) + (db.get("port") == null ? "" : ":" + db.get("port"))
                    + (db.get("user") == null ? "" : " (role " + db.get("user") + ")"));
            lines.add("  method:         " + db.get("method") + (db.get("pg-dump-version") == null ? "" : ", " + db.get("pg-dump-version")));
            lines.add("  size:           " + size + " dump" + (db.get("dump-entries") instanceof List<?> l
                    ? " in " + l.size() + " chunk" + (l.size() == 1 ? "" : "s") : ""));
            lines.add("  schema version: " + (db.get("schema-version") == null ? "unknown" : db.get("schema-version")));
            if (db.get("server-version") != null) {
                lines.add("  server:         PostgreSQL " + db.get("server-version"));
            }
            if (db.get("encoding") != null) {
                lines.add("  encoding:       " + db.get("encoding") + ", collation " + db.get("collation") + ", ctype " + db.get("ctype"));
            }
            if (db.get("excluded-table-data") instanceof List<?> ex && !ex.isEmpty()) {
                lines.add("  rows left out:  " + String.join(", ", ex.stream().map(String::valueOf).toList()));
            }
        } else if ("sqlite3".equals(engine)) {
            lines.add("database:     SQLite " + db.get("path"));
            lines.add("  method:         " + db.get("method"));
            lines.add("  size:           " + size);
            lines.add("  schema version: " + (db.get("schema-version") == null ? "unknown" : db.get("schema-version")));
            lines.add("  quick_check:    " + (db.get("quick-check") == null ? "not recorded" : db.get("quick-check")));
        } else {
            lines.add("database:     " + engine);
            db.forEach((k, v) -> {
                if (!k.equals("engine") && !(v instanceof Map) && !(v instanceof List)) {
                    lines.add("  " + k + ": " + v);
                }
            });
        }
        return lines;
    }
}
