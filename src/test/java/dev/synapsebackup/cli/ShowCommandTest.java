package dev.synapsebackup.cli;

import dev.synapsebackup.manifest.DatabaseRecord;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code show}'s database facts as an admin reads them (the SQLite case runs end to end in LocalRoundTripTest). */
class ShowCommandTest {
    @Test
    void postgresFactsAreReadableLines() {
        Map<String, Object> db = new LinkedHashMap<>();
        db.put("engine", "postgresql");
        db.put("method", "pg_dump -Fc");
        db.put("host", "db.example.org");
        db.put("port", 5432);
        db.put("dbname", "synapse");
        db.put("user", "synapse_user");
        db.put("server-version", "15.18 (Debian 15.18-0+deb12u1)");
        db.put("pg-dump-version", "pg_dump (PostgreSQL) 15.18");
        db.put("encoding", "UTF8");
        db.put("collation", "C");
        db.put("ctype", "C");
        db.put("schema-version", 83);
        db.put("excluded-table-data", List.of("e2e_one_time_keys_json"));
        db.put("dump-entries", List.of(".synapse-backup/postgresql/synapse.pgdump.000001"));
        db.put("dump-bytes", 3L << 20);
        assertThat(ShowCommand.databaseLines(DatabaseRecord.fromManifest(db), 3L << 20)).containsExactly(
                "database:     PostgreSQL database synapse on db.example.org:5432 (role synapse_user)",
                "  method:         pg_dump -Fc, pg_dump (PostgreSQL) 15.18",
                "  size:           3.0 MiB (3145728 bytes) dump in 1 chunk",
                "  schema version: 83",
                "  server:         PostgreSQL 15.18 (Debian 15.18-0+deb12u1)",
                "  encoding:       UTF8, collation C, ctype C",
                "  rows left out:  e2e_one_time_keys_json");
    }

    @Test
    void sqliteWithoutRecordedChecksSaysSo() {
        Map<String, Object> db = new LinkedHashMap<>();
        db.put("engine", "sqlite3");
        db.put("path", "/var/lib/matrix-synapse/homeserver.db");
        db.put("method", "sqlite-online-backup");
        db.put("source", Map.of("taken", "2026-01-01T00:00:00Z"));
        assertThat(ShowCommand.databaseLines(DatabaseRecord.fromManifest(db), -1)).containsExactly(
                "database:     SQLite /var/lib/matrix-synapse/homeserver.db",
                "  method:         sqlite-online-backup",
                "  size:           unknown",
                "  schema version: unknown",
                "  quick_check:    not recorded");
        assertThat(ShowCommand.databaseLines(DatabaseRecord.none(), -1)).containsExactly("database:     none recorded");
    }
}
