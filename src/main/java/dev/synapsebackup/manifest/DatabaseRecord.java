package dev.synapsebackup.manifest;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.synapse.PostgresDump;
import dev.synapsebackup.synapse.SqliteFileState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The manifest's {@code database} object (docs/FORMAT.md): how the database was captured. It is
 * parsed once, where the manifest is read; everything else reads the typed fields.
 */
public sealed interface DatabaseRecord {

    /** The {@code method} of a SQLite record. */
    String SQLITE_METHOD = "sqlite-online-backup";

    /** The object as the manifest holds it, in its order: what {@code show --json} prints. */
    Map<String, Object> fields();

    /** Synapse's {@code schema_version.version}, or null if unknown. */
    Integer schemaVersion();

    /** No database recorded (the manifest's object is empty), or an engine this version does not know. */
    record None(Map<String, Object> fields) implements DatabaseRecord {
        public None {
            fields = copy(fields);
        }

        @Override
        public Integer schemaVersion() {
            return null;
        }
    }

    /**
     * A SQLite snapshot.
     *
     * @param path       the live database's absolute path
     * @param method     how it was captured ({@code sqlite-online-backup})
     * @param quickCheck {@code PRAGMA quick_check} of the snapshot ({@code "ok"} when sound), or null
     * @param source     the live files' state when the snapshot began, or null if absent or unreadable
     */
    record Sqlite(String path, String method, String quickCheck, Integer schemaVersion, SqliteFileState source,
                  Map<String, Object> fields) implements DatabaseRecord {
        public Sqlite {
            fields = copy(fields);
        }

        /** The record of a snapshot made (or reused) now, in the documented field order. */
        public static Sqlite of(String path, String quickCheck, Integer schemaVersion, SqliteFileState source) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("engine", "sqlite3");
            m.put("path", path);
            m.put("method", SQLITE_METHOD);
            m.put("quick-check", quickCheck);
            m.put("schema-version", schemaVersion);
            m.put("source", source.toManifest());
            return new Sqlite(path, SQLITE_METHOD, quickCheck, schemaVersion, source, m);
        }
    }

    /**
     * A {@code pg_dump -Fc} dump, stored in chunk entries (docs/FORMAT.md, "Manifest database object").
     *
     * @param host              the server's host as configured, or null for the local socket
     * @param port              its port, or null if not recorded
     * @param excludedTableData tables whose rows were left out
     * @param dumpEntries       the chunk entries' names, in order
     * @param dumpBytes         the dump's size (-1 if not recorded)
     */
    record Postgres(String method, String host, Integer port, String dbname, String user, String serverVersion,
                    String pgDumpVersion, String encoding, String collation, String ctype, Integer schemaVersion,
                    List<String> excludedTableData, List<String> dumpEntries, long dumpBytes, String dumpSha256,
                    Map<String, Object> fields) implements DatabaseRecord {
        public Postgres {
            excludedTableData = List.copyOf(excludedTableData);
            dumpEntries = List.copyOf(dumpEntries);
            fields = copy(fields);
        }

        /** The record of a dump just made, in the documented field order. */
        public static Postgres of(PostgresDump.Result r) {
            PostgresDump.ServerInfo v = r.server();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("engine", "postgresql");
            m.put("method", PostgresDump.METHOD);
            m.put("host", r.host());
            m.put("port", r.port());
            m.put("dbname", v.dbname());
            m.put("user", v.user());
            m.put("server-version", v.serverVersion());
            m.put("pg-dump-version", r.pgDumpVersion());
            m.put("encoding", v.encoding());
            m.put("collation", v.collation());
            m.put("ctype", v.ctype());
            m.put("schema-version", v.schemaVersion());
            m.put("excluded-table-data", List.of(PostgresDump.EXCLUDED_TABLE_DATA));
            m.put("dump-entries", r.entries());
            m.put("dump-bytes", r.bytes());
            m.put("dump-sha256", r.sha256());
            return (Postgres) fromManifest(m);
        }
    }

    /** A record with nothing in it. */
    static DatabaseRecord none() {
        return new None(Map.of());
    }

    /**
     * Parses the manifest's object. A field of the wrong type is refused here, so that no reader
     * meets it later as a cast failure.
     */
    static DatabaseRecord fromManifest(Map<String, Object> m) {
        if (m == null) {
            return none();
        }
        try {
            return switch (String.valueOf(m.get("engine"))) {
                case "sqlite3" -> new Sqlite(string(m, "path"), string(m, "method"), string(m, "quick-check"),
                        integer(m, "schema-version"), SqliteFileState.fromManifest(m.get("source")), m);
                case "postgresql" -> new Postgres(string(m, "method"), string(m, "host"), integer(m, "port"),
                        string(m, "dbname"), string(m, "user"), string(m, "server-version"),
                        string(m, "pg-dump-version"), string(m, "encoding"), string(m, "collation"),
                        string(m, "ctype"), integer(m, "schema-version"), strings(m, "excluded-table-data"),
                        strings(m, "dump-entries"), m.get("dump-bytes") instanceof Number n ? n.longValue() : -1,
                        string(m, "dump-sha256"), m);
                default -> new None(m);
            };
        } catch (ClassCastException e) {
            throw new IntegrityException("the manifest's database record is malformed: " + e.getMessage(), e);
        }
    }

    private static String string(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v == null ? null : (String) v;
    }

    private static Integer integer(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v == null ? null : ((Number) v).intValue();
    }

    private static List<String> strings(Map<String, Object> m, String key) {
        List<String> r = new ArrayList<>();
        if (m.get(key) instanceof List<?> list) {
            for (Object o : list) {
                r.add((String) o);
            }
        }
        return r;
    }

    private static Map<String, Object> copy(Map<String, Object> fields) {
        // LinkedHashMap (not Map.copyOf): keeps the manifest's order and its null values.
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }
}
