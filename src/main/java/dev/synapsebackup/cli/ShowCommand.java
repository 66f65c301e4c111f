package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.ManifestSummary;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(name = "show",
        header = "Summarise a backup's manifest.",
        description = "Decrypts the manifest of backup ID and prints its server name, kind, parent, the data objects"
                + " it needs, the source paths by role, how the database was captured, and the number and size of"
                + " its files.",
        footer = {
            "  synapse-backup show backup-20261122031930123456",
            "  synapse-backup show backup-20261122031930123456 --json"})
final class ShowCommand extends OneBackupCommand {

    @Override
    int run(SynapseBackup sb, String id, Output out) {
        SynapseBackup.ShowResult shown = sb.show(id, opener());
        ManifestSummary s = shown.summary();
        Map<String, Object> objects = new LinkedHashMap<>();
        shown.objects().forEach(o -> objects.put(o.backupId(), Map.of("files", o.files(), "bytes", o.bytes())));
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
            m.put("roots", s.roots().toManifest());
            m.put("database", s.database().fields());
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
            if (!s.media().isEmpty()) {
                Map<String, Object> media = new LinkedHashMap<>();
                media.put("stores", s.media().stores().stream().map(st -> {
                    Map<String, Object> sm = new LinkedHashMap<>();
                    sm.put("endpoint", st.endpoint());
                    sm.put("region", st.region());
                    sm.put("bucket", st.bucket());
                    sm.put("prefix", st.prefix());
                    sm.put("key-prefixes", st.keyPrefixes());
                    return sm;
                }).toList());
                media.put("objects", s.media().objects());
                media.put("bytes", s.media().bytes());
                m.put("s3-media", media);
            }
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
        shown.objects().forEach(o -> out.result("data object:  " + o.backupId() + ": " + o.files() + " files ("
                + Sizes.human(o.bytes()) + ")" + (o.backupId().equals(s.backupId()) ? "" : ", from an earlier backup")));
        databaseLines(s.database(), shown.databaseBytes()).forEach(out::result);
        for (Map.Entry<String, List<String>> e : s.roots().toManifest().entrySet()) {
            out.result("roots." + e.getKey() + ": " + String.join(", ", e.getValue()));
        }
        for (var st : s.media().stores()) {
            out.result("s3-media:     " + st.location() + " (" + String.join(", ", st.keyPrefixes()) + ")");
        }
        if (!s.media().isEmpty()) {
            out.result("s3-media:     " + s.media().objects() + " objects (" + Sizes.human(s.media().bytes())
                    + "), copied into the repository under media/<backup-id>/<bucket>/<key>");
        }
        for (var d : s.directories()) {
            out.result("directory:    /" + d.path() + " " + d.describe());
        }
        for (ManifestSummary.Skipped k : s.skipped()) {
            out.result("skipped:      " + k.path() + " (" + k.reason() + ")");
        }
        return 0;
    }

    /** The manifest's database facts as readable lines: engine, method, size, schema version, checks. */
    static List<String> databaseLines(DatabaseRecord db, long bytes) {
        List<String> lines = new java.util.ArrayList<>();
        String size = bytes < 0 ? "unknown" : Sizes.human(bytes) + " (" + bytes + " bytes)";
        if (db instanceof DatabaseRecord.Postgres pg) {
            lines.add("database:     PostgreSQL database " + pg.dbname() + " on "
                    + (pg.host() == null ? "the local socket" : pg.host()) + (pg.port() == null ? "" : ":" + pg.port())
                    + (pg.user() == null ? "" : " (role " + pg.user() + ")"));
            lines.add("  method:         " + pg.method() + (pg.pgDumpVersion() == null ? "" : ", " + pg.pgDumpVersion()));
            int chunks = pg.dumpEntries().size();
            lines.add("  size:           " + size + " dump"
                    + (chunks == 0 ? "" : " in " + chunks + " chunk" + (chunks == 1 ? "" : "s")));
            lines.add("  schema version: " + (pg.schemaVersion() == null ? "unknown" : pg.schemaVersion()));
            if (pg.serverVersion() != null) {
                lines.add("  server:         PostgreSQL " + pg.serverVersion());
            }
            if (pg.encoding() != null) {
                lines.add("  encoding:       " + pg.encoding() + ", collation " + pg.collation() + ", ctype " + pg.ctype());
            }
            if (!pg.excludedTableData().isEmpty()) {
                lines.add("  rows left out:  " + String.join(", ", pg.excludedTableData()));
            }
        } else if (db instanceof DatabaseRecord.Sqlite sqlite) {
            lines.add("database:     SQLite " + sqlite.path());
            lines.add("  method:         " + sqlite.method());
            lines.add("  size:           " + size);
            lines.add("  schema version: " + (sqlite.schemaVersion() == null ? "unknown" : sqlite.schemaVersion()));
            lines.add("  quick_check:    " + (sqlite.quickCheck() == null ? "not recorded" : sqlite.quickCheck()));
        } else if (db.fields().isEmpty()) {
            lines.add("database:     none recorded");
        } else {
            // An engine this version does not know: show what the manifest says.
            lines.add("database:     " + db.fields().get("engine"));
            db.fields().forEach((k, v) -> {
                if (!k.equals("engine") && !(v instanceof Map) && !(v instanceof List)) {
                    lines.add("  " + k + ": " + v);
                }
            });
        }
        return lines;
    }
}
