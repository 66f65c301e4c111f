package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.PostgresAdmin;
import dev.synapsebackup.testing.PostgresServer;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.SynapseSchema;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restores with Synapse's documented PostgreSQL setup, against a real throwaway server: a role
 * without CREATEDB (not superuser) that owns a database the superuser created with
 * {@code OWNER}. Live restores over a populated database, failures mid-load, --keep-previous, and
 * a new server with and without an admin connection.
 */
class PostgresDocumentedRoleTest {
    @RegisterExtension
    static final PostgresServer PG = new PostgresServer();

    static final String SOURCE = "doc_source";
    /** More of what Synapse's schema has besides tables: a trigger function, a trigger, a view. */
    static final String EXTRAS = """
            CREATE FUNCTION check_room_version() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN IF NEW.room_version IS NULL THEN NEW.room_version := '10'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER rooms_version BEFORE INSERT ON rooms FOR EACH ROW EXECUTE PROCEDURE check_room_version();
            CREATE VIEW public_rooms AS SELECT room_id FROM rooms WHERE is_public;
            """;

    static byte[] dump;

    @TempDir
    Path tmp;

    @BeforeAll
    static void makeSourceAndDump() throws Exception {
        populate(SOURCE);
        Path dir = Files.createTempDirectory("doc-dump");
        try {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            new PostgresDump(tools(), 1 << 20, dir).dump(PG.docConfig(SOURCE), (name, data, size) -> data.transferTo(out));
            dump = out.toByteArray();
        } finally {
            Files.deleteIfExists(dir);
        }
    }

    /** A database as Synapse's docs set it up, with Synapse-like contents, written by Synapse's role. */
    static void populate(String db) throws Exception {
        PG.createSynapseDatabase(db, PostgresServer.DOC_USER);
        PG.docSql(db, SynapseSchema.SCHEMA);
        PG.docSql(db, SynapseSchema.DATA);
        PG.docSql(db, EXTRAS);
    }

    /** The live server moved on after the backup: rows changed, a table and a function added. */
    static void laterData(String db) throws Exception {
        PG.docSql(db, "DELETE FROM events WHERE stream_ordering % 3 = 0; INSERT INTO users (name) VALUES ('@late:example.org');"
                + " CREATE TABLE later_table (x int); INSERT INTO later_table VALUES (7);"
                + " CREATE FUNCTION later_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';");
    }

    static PgTools tools() {
        return new PgTools(List.of(PG.binDir()));
    }

    PostgresRestore restore() {
        return new PostgresRestore(tools(), tmp);
    }

    /** Everything a failed restore must leave as it was: per-table checksums, and every object's schema and owner. */
    static Map<String, String> state(String db) throws Exception {
        Map<String, String> out = new TreeMap<>(SynapseSchema.snapshot(PG, db));
        out.put("later_table", PG.superSql(db, "SELECT count(*) || '|' || coalesce(md5(string_agg(t::text, ',')), '-')"
                + " FROM later_table t"));
        out.put("objects", PG.superSql(db, "SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':'"
                + " || pg_get_userbyid(c.relowner), ',' ORDER BY 1) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"));
        out.put("routines", PG.superSql(db, "SELECT string_agg(p.oid::regprocedure::text, ',' ORDER BY 1) FROM pg_proc p"
                + " WHERE p.pronamespace = 'public'::regnamespace"));
        out.put("schemas", PG.superSql(db, "SELECT string_agg(nspname, ',' ORDER BY 1) FROM pg_namespace"));
        out.put("sequence", PG.superSql(db, "SELECT last_value FROM events_stream_seq"));
        return out;
    }

    /** What the restored database must hold: the source's tables, no one-time keys. */
    static void assertRestored(String db) throws Exception {
        Map<String, String> expected = new TreeMap<>(SynapseSchema.snapshot(PG, SOURCE));
        Map<String, String> got = new TreeMap<>(SynapseSchema.snapshot(PG, db));
        assertThat(expected.remove("e2e_one_time_keys_json")).startsWith("3000|");
        assertThat(got.remove("e2e_one_time_keys_json")).isEqualTo("0|-");
        assertThat(got).isEqualTo(expected);
        assertThat(PG.superSql(db, "SELECT to_regclass('public.later_table') IS NULL, to_regproc('public.later_fn') IS NULL"))
                .isEqualTo("t|t");
        assertThat(PG.superSql(db, "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class"
                + " WHERE relnamespace = 'public'::regnamespace")).isEqualTo(PostgresServer.DOC_USER);
        // The trigger function and the view came back and work.
        PG.docSql(db, "INSERT INTO rooms (room_id, is_public) VALUES ('!new:example.org', true)");
        assertThat(PG.superSql(db, "SELECT room_version FROM rooms WHERE room_id = '!new:example.org'")).isEqualTo("10");
        assertThat(PG.superSql(db, "SELECT count(*) FROM public_rooms WHERE room_id = '!new:example.org'")).isEqualTo("1");
        PG.docSql(db, "DELETE FROM rooms WHERE room_id = '!new:example.org'");
    }

    @Test
    void liveRestoreOverPopulatedDatabaseKeepPreviousAndNoCreatedb() throws Exception {
        assertThat(PG.superSql("postgres", "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = '"
                + PostgresServer.DOC_USER + "'")).isEqualTo("f|f");
        String db = "live1";
        populate(db);
        laterData(db);
        PostgresRestore restore = restore();
        assertThatThrownBy(() -> restore.preflight(PG.docConfig(db), PostgresRestore.Options.refuseExisting()))
                .hasMessageContaining("--drop-existing");
        restore.preflight(PG.docConfig(db), new PostgresRestore.Options(true, false, "k1"));

        PostgresRestore.Result r = restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                new PostgresRestore.Options(true, false, "k1"));
        assertThat(r.created()).isFalse();
        assertThat(r.previous()).isEqualTo("public_pre_restore_k1");
        assertThat(r.previousDropped()).isTrue();
        assertRestored(db);
        assertThat(PG.superSql(db, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'public_pre_restore%'")).isEqualTo("0");

        // --keep-previous: the replaced contents stay in a schema of the same database...
        laterData(db);
        Map<String, String> before = SynapseSchema.snapshot(PG, db);
        PostgresRestore.Result k = restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                new PostgresRestore.Options(true, true, "k2"));
        assertThat(k.previousDropped()).isFalse();
        assertRestored(db);
        assertThat(PG.superSql(db, "SELECT count(*) || '|' || md5(string_agg(t::text, ',' ORDER BY name))"
                + " FROM public_pre_restore_k2.users t")).isEqualTo(before.get("users"));
        assertThat(PG.superSql(db, "SELECT x FROM public_pre_restore_k2.later_table")).isEqualTo("7");
        // ...a next restore with the same name says how to drop it...
        assertThatThrownBy(() -> restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                new PostgresRestore.Options(true, true, "k2")))
                .hasMessageContaining("DROP SCHEMA \"public_pre_restore_k2\" CASCADE");
        // ...the next backup leaves it out...
        java.io.ByteArrayOutputStream again = new java.io.ByteArrayOutputStream();
        new PostgresDump(tools(), 1 << 20, tmp).dump(PG.docConfig(db), (name, data, size) -> data.transferTo(again));
        String toc = pgRestoreList(again.toByteArray());
        assertThat(toc).contains("public users").doesNotContain("public_pre_restore");
        // ...and Synapse's role drops it as the note says.
        PG.docSql(db, "DROP SCHEMA public_pre_restore_k2 CASCADE");
        assertRestored(db);
    }

    @Test
    void failuresMidLoadLeaveTheDatabaseExactlyAsItWas() throws Exception {
        String db = "live2";
        populate(db);
        laterData(db);
        Map<String, String> before = state(db);
        PostgresRestore.Options opts = new PostgresRestore.Options(true, false, "f1");

        // 1. The tool fails half-way through sending the data (the dump's SQL is many MB).
        PostgresRestore restore = restore();
        AtomicBoolean fired = new AtomicBoolean();
        restore.loadHook(sent -> {
            if (sent > 2_000_000 && !fired.getAndSet(true)) {
                try {
                    assertThat(PG.superSql(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'synapse-backup'"
                            + " AND datname = '" + db + "' AND xact_start IS NOT NULL")).isEqualTo("1");
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                throw new IOException("injected failure mid-load");
            }
        });
        assertThatThrownBy(() -> restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump), opts))
                .isInstanceOf(SynapseBackupException.class).hasMessageContaining("rolled back");
        assertThat(fired).isTrue();
        assertThat(state(db)).isEqualTo(before);

        // 2. The server ends the session mid-load (a crash, an admin's pg_terminate_backend).
        PostgresRestore killed = restore();
        AtomicBoolean terminated = new AtomicBoolean();
        killed.loadHook(sent -> {
            if (sent > 2_000_000 && !terminated.getAndSet(true)) {
                try {
                    assertThat(PG.superSql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            + " WHERE application_name = 'synapse-backup' AND datname = '" + db + "'")).isEqualTo("1");
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
        });
        assertThatThrownBy(() -> killed.restore(PG.docConfig(db), new ByteArrayInputStream(dump), opts))
                .isInstanceOf(SynapseBackupException.class).hasMessageContaining("rolled back");
        assertThat(terminated).isTrue();
        assertThat(state(db)).isEqualTo(before);

        // 3. A dump that breaks off (pg_restore fails after having emitted part of the data).
        assertThatThrownBy(() -> restore().restore(PG.docConfig(db), new ByteArrayInputStream(dump, 0, dump.length * 2 / 3),
                opts)).isInstanceOf(SynapseBackupException.class).hasMessageContaining("pg_restore");
        assertThat(state(db)).isEqualTo(before);

        // And then it works.
        restore().restore(PG.docConfig(db), new ByteArrayInputStream(dump), opts);
        assertRestored(db);
    }

    @Test
    void newServerWithoutAdminConnectionPrintsTheCommandsThatWork() throws Exception {
        String db = "fresh_noadmin";
        PostgresRestore restore = restore();
        SynapseBackupException e = (SynapseBackupException) org.assertj.core.api.Assertions.catchThrowable(
                () -> restore.preflight(PG.docConfig(db), PostgresRestore.Options.refuseExisting()));
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("database \"" + db + "\" on ").contains("does not exist").contains("no CREATEDB")
                .contains("sudo -u postgres createdb").contains("admin-os-user");
        assertThatThrownBy(() -> restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                PostgresRestore.Options.refuseExisting())).hasMessage(e.getMessage());
        assertThat(PG.superSql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + db + "'")).isEqualTo("0");

        // The printed command, run as the superuser (here over TCP with its password instead of sudo and peer), works.
        Matcher m = Pattern.compile("sudo -u postgres (createdb [^\n]*)").matcher(e.getMessage());
        assertThat(m.find()).isTrue();
        assertThat(m.group(1)).isEqualTo("createdb -p " + PG.port() + " --encoding=UTF8 --locale=C --template=template0"
                + " --owner=" + PostgresServer.DOC_USER + " " + db);
        var run = Procs.bash(m.group(1), Map.of("PATH", PG.binDir() + ":" + System.getenv("PATH"), "PGHOST", "127.0.0.1",
                "PGUSER", PostgresServer.SUPERUSER, "PGPASSWORD", PostgresServer.SUPERUSER_PASSWORD), tmp);
        assertThat(run.exitCode()).as(run.stderr()).isZero();

        PostgresRestore.Result r = restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                PostgresRestore.Options.refuseExisting());
        assertThat(r.created()).isFalse();
        assertThat(r.previous()).isNull();
        assertRestored(db);

        // A role that does not exist yet: the message says how to create it.
        var noRole = new DatabaseConfig.Postgres("127.0.0.1", PG.port(), "no_such_role", dev.synapsebackup.config.Secret.of("x"),
                "whatever", Map.of("sslmode", "disable"));
        assertThatThrownBy(() -> restore.preflight(noRole, PostgresRestore.Options.refuseExisting()))
                .hasMessageContaining("authentication failed").hasMessageContaining("sudo -u postgres createuser -p "
                        + PG.port() + " --pwprompt no_such_role");
    }

    @Test
    void newServerWithAdminConnectionCreatesTheDatabaseAsSynapseRequires() throws Exception {
        Path pw = tmp.resolve("admin-pw");
        Files.writeString(pw, PostgresServer.SUPERUSER_PASSWORD + "\n");
        PostgresAdmin admin = new PostgresAdmin(null, PostgresServer.SUPERUSER, pw);
        PostgresRestore restore = new PostgresRestore(tools(), tmp, admin);
        String db = "fresh_admin";

        // A failure after the admin created the database drops it again.
        assertThatThrownBy(() -> restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump, 0, dump.length / 2),
                PostgresRestore.Options.refuseExisting())).isInstanceOf(SynapseBackupException.class);
        assertThat(PG.superSql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + db + "'")).isEqualTo("0");

        restore.preflight(PG.docConfig(db), PostgresRestore.Options.refuseExisting());
        PostgresRestore.Result r = restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                PostgresRestore.Options.refuseExisting());
        assertThat(r.created()).isTrue();
        assertThat(r.createdBy()).isEqualTo("admin");
        assertThat(PG.superSql("postgres", "SELECT pg_encoding_to_char(encoding), datcollate, datctype,"
                + " pg_get_userbyid(datdba) FROM pg_database WHERE datname = '" + db + "'"))
                .isEqualTo("UTF8|C|C|" + PostgresServer.DOC_USER);
        assertRestored(db);
        // Nothing of the admin's password is left in the temp directory (the passfile is gone).
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("synapse-backup-pgpass"))).isEmpty();
        }

        // A wrong admin password is named as the admin connection's problem, before anything changes.
        Files.writeString(pw, "wrong\n");
        assertThatThrownBy(() -> restore.preflight(PG.docConfig("fresh_admin2"), PostgresRestore.Options.refuseExisting()))
                .hasMessageContaining("authentication failed").hasMessageContaining("as user \"postgres\"")
                .hasMessageNotContaining(PostgresServer.SUPERUSER_PASSWORD);
    }

    @Test
    void largeObjectsAreLeftOutOfDumpsAndRefusedBeforeAnythingChanges() throws Exception {
        String src = "lo_source";
        populate(src);
        PG.docSql(src, "SELECT lo_from_bytea(0, convert_to('a large object', 'UTF8'))");
        assertThat(PG.superSql(src, "SELECT count(*) FROM pg_largeobject_metadata")).isEqualTo("1");
        // Our dumps leave large objects out...
        java.io.ByteArrayOutputStream ours = new java.io.ByteArrayOutputStream();
        new PostgresDump(tools(), 1 << 20, tmp).dump(PG.docConfig(src), (name, data, size) -> data.transferTo(ours));
        assertThat(pgRestoreList(ours.toByteArray())).contains("public users").doesNotContain("BLOB")
                .doesNotContain("LARGE OBJECT");
        // ...a dump made otherwise is refused, from chunk files (by its table of contents) and from a stream
        // (when pg_restore's own transaction around the large objects comes), and nothing changes.
        Path old = tmp.resolve("old.pgdump");
        var run = Procs.bash("pg_dump -Fc -h 127.0.0.1 -p " + PG.port() + " -U " + PostgresServer.DOC_USER + " -f "
                + old + " " + src, Map.of("PATH", PG.binDir() + ":" + System.getenv("PATH"), "PGPASSWORD",
                PostgresServer.DOC_PASSWORD), tmp);
        assertThat(run.exitCode()).as(run.stderr()).isZero();
        assertThat(restore().listDump(List.of(old)).largeObjects()).isPositive();
        String db = "lo_target";
        populate(db);
        laterData(db);
        Map<String, String> before = state(db);
        PostgresRestore.Options opts = new PostgresRestore.Options(true, false, "lo");
        assertThatThrownBy(() -> restore().restore(PG.docConfig(db), List.of(old), opts))
                .isInstanceOf(SynapseBackupException.class).hasMessageContaining("large objects")
                .hasMessageContaining("was not touched");
        assertThat(state(db)).isEqualTo(before);
        assertThatThrownBy(() -> restore().restore(PG.docConfig(db), Files.newInputStream(old), opts))
                .isInstanceOf(SynapseBackupException.class).hasMessageContaining("large objects")
                .hasMessageContaining("rolled back");
        assertThat(state(db)).isEqualTo(before);
        assertThat(PG.superSql(db, "SELECT count(*) FROM pg_largeobject_metadata")).isEqualTo("0");
    }

    @Test
    void oldContentsOthersDependOnAreKeptNotDroppedWithThem() throws Exception {
        String db = "dep_target";
        populate(db);
        // An admin's view and foreign key in another schema use Synapse's tables.
        PG.superSql(db, "CREATE SCHEMA reports; CREATE VIEW reports.user_names AS SELECT name FROM public.users;"
                + " CREATE TABLE reports.notes (room_id text REFERENCES public.rooms (room_id));");
        PostgresRestore.Result r = restore().restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                new PostgresRestore.Options(true, false, "dep"));
        assertThat(r.previous()).isEqualTo("public_pre_restore_dep");
        assertThat(r.previousDropped()).isFalse();
        assertRestored(db);
        assertThat(PG.superSql(db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public_pre_restore_dep'"))
                .isEqualTo("1");
        assertThat(PG.superSql(db, "SELECT count(*) > 0 FROM reports.user_names")).isEqualTo("t");
        assertThat(PG.superSql(db, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'reports.notes'::regclass"
                + " AND contype = 'f'")).isEqualTo("1");
        // Without such dependents the schema goes.
        PG.superSql(db, "DROP SCHEMA reports CASCADE");
        PG.docSql(db, "DROP SCHEMA public_pre_restore_dep CASCADE");
        PostgresRestore.Result again = restore().restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                new PostgresRestore.Options(true, false, "dep2"));
        assertThat(again.previousDropped()).isTrue();
        assertThat(PG.superSql(db, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'public_pre_restore%'"))
                .isEqualTo("0");
    }

    @Test
    void aDatabaseCreatedMeanwhileByAnotherIsNotDropped() throws Exception {
        Path pw = tmp.resolve("admin-pw");
        Files.writeString(pw, PostgresServer.SUPERUSER_PASSWORD + "\n");
        PostgresRestore restore = new PostgresRestore(tools(), tmp, new PostgresAdmin(null, PostgresServer.SUPERUSER, pw));
        String db = "raced";
        restore.createHook(() -> {
            try {
                populate(db); // an admin creates and fills it between the check and CREATE DATABASE
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThatThrownBy(() -> restore.restore(PG.docConfig(db), new ByteArrayInputStream(dump),
                PostgresRestore.Options.refuseExisting())).isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining("already exists");
        assertThat(PG.superSql(db, "SELECT count(*) FROM users")).isNotEqualTo("0");
    }

    @Test
    void sslpasswordIsRefusedNotPutOnACommandLine() {
        var withSslPassword = new DatabaseConfig.Postgres("127.0.0.1", PG.port(), PostgresServer.DOC_USER,
                dev.synapsebackup.config.Secret.of(PostgresServer.DOC_PASSWORD), "whatever",
                Map.of("sslmode", "disable", "sslpassword", "key-passphrase"));
        assertThatThrownBy(() -> restore().preflight(withSslPassword, PostgresRestore.Options.refuseExisting()))
                .isInstanceOf(dev.synapsebackup.ConfigException.class).hasMessageContaining("database.args.sslpassword")
                .hasMessageNotContaining("key-passphrase");
    }

    @Test
    void rowDataIsCutFromPsqlErrors() {
        String err = """
                ERROR:  invalid input syntax for type integer: "x"
                CONTEXT:  COPY users, line 3, column admin: "@alice:secret-value"
                CONTEXT:  COPY events, line 7: "whole row with secret-value"
                DETAIL:  Key (name)=(@alice:secret-value) already exists.
                DETAIL:  Failing row contains (1, secret-value).
                """;
        String safe = PgRestoreRunner.safeStderr(err);
        assertThat(safe).doesNotContain("secret-value").contains("COPY users, line 3, column admin: …")
                .contains("COPY events, line 7: …").contains("Key (name)=(…)").contains("Failing row contains (…)");
    }

    static String pgRestoreList(byte[] archive) throws Exception {
        Process p = new ProcessBuilder(PG.binDir().resolve("pg_restore").toString(), "--list").start();
        Thread feed = new Thread(() -> {
            try (OutputStream o = p.getOutputStream()) {
                o.write(archive);
            } catch (IOException e) {
                // the exit code tells
            }
        });
        feed.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        feed.join();
        assertThat(p.waitFor()).isZero();
        return out;
    }
}
