package dev.synapsebackup.synapse;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.PostgresServer;
import dev.synapsebackup.testing.SynapseSchema;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** pg_dump into chunks and pg_restore back, against a real throwaway PostgreSQL server. */
class PostgresDumpTest {
    @RegisterExtension
    static final PostgresServer PG = new PostgresServer();

    static final String SOURCE = "synapse";

    @TempDir
    Path tmp;

    @BeforeAll
    static void loadSchema() throws Exception {
        PG.createSynapseDatabase(SOURCE);
        PG.userSql(SOURCE, SynapseSchema.SCHEMA);
        PG.userSql(SOURCE, SynapseSchema.DATA);
    }



    PgTools tools() {
        return new PgTools(List.of(PG.binDir()));
    }


    static long count(String db, String table) throws Exception {
        return Long.parseLong(PG.superSql(db, "SELECT count(*) FROM " + table));
    }

    /** Dumps {@code db} into chunk files under {@code dir}. */
    List<Path> dumpToFiles(PostgresDump dumper, String db, Path dir, AtomicReference<PostgresDump.Result> result)
            throws IOException {
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        result.set(dumper.dump(PG.config(db), (name, data, size) -> {
            Path f = dir.resolve(name.substring(name.lastIndexOf('/') + 1));
            try (OutputStream out = Files.newOutputStream(f)) {
                assertThat(data.transferTo(out)).isEqualTo(size);
            }
            files.add(f);
        }));
        return files;
    }

    @Test
    void dumpWhileWritingThenRestoreIntoFreshDatabase() throws Exception {
        long before = count(SOURCE, "events");
        Map<String, String> stable = SynapseSchema.snapshot(PG, SOURCE);
        // A writer commits one event at a time while pg_dump runs.
        Process writer = PG.userSqlAsync(SOURCE, """
                DO $$BEGIN FOR i IN 1..1000000 LOOP
                  INSERT INTO events (event_id, room_id, type, sender, origin_server_ts, json)
                    VALUES ('$live' || i, '!room1:example.org', 'm.room.message', '@user1:example.org', i,
                            jsonb_build_object('body', 'live ' || i));
                  COMMIT;
                  PERFORM pg_sleep(0.001);
                END LOOP; END$$""");
        AtomicReference<PostgresDump.Result> res = new AtomicReference<>();
        List<Path> chunks;
        long after;
        try {
            Await.until("the writer's first commits", Duration.ofSeconds(60),
                    () -> count(SOURCE, "events") >= before + 20);
            long atStart = count(SOURCE, "events");
            chunks = dumpToFiles(new PostgresDump(tools(), 256 * 1024, tmp), SOURCE, tmp.resolve("dump"), res);
            after = count(SOURCE, "events");
            assertThat(after).as("rows committed while pg_dump ran").isGreaterThan(atStart);
        } finally {
            // The backend does not notice a dead psql while it loops: end it on the server.
            PG.superSql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    + " WHERE query LIKE 'DO $$BEGIN FOR i IN%' AND pid <> pg_backend_pid()");
            writer.destroyForcibly();
            writer.waitFor();
        }
        PostgresDump.Result r = res.get();
        assertThat(chunks.size()).isGreaterThan(2);
        assertThat(r.entries()).hasSize(chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            assertThat(r.entries().get(i)).isEqualTo(String.format(".synapse-backup/postgresql/synapse.pgdump.%06d", i + 1));
            if (i < chunks.size() - 1) {
                assertThat(Files.size(chunks.get(i))).isEqualTo(256 * 1024);
            }
        }
        long total = 0;
        var sha = Sha256.newDigest();
        for (Path c : chunks) {
            byte[] b = Files.readAllBytes(c);
            sha.update(b);
            total += b.length;
        }
        assertThat(r.bytes()).isEqualTo(total);
        assertThat(r.sha256()).isEqualTo(Sha256.hex(sha.digest()));
        assertThat(new String(Files.readAllBytes(chunks.get(0)), 0, 5, StandardCharsets.US_ASCII)).isEqualTo("PGDMP");
        assertThat(r.server().dbname()).isEqualTo(SOURCE);
        assertThat(r.server().encoding()).isEqualTo("UTF8");
        assertThat(r.server().collation()).isEqualTo("C");
        assertThat(r.server().ctype()).isEqualTo("C");
        assertThat(r.server().schemaVersion()).isEqualTo(83);
        assertThat(r.server().user()).isEqualTo(PostgresServer.USER);
        assertThat(r.server().serverVersion()).startsWith(PG.binDir().getParent().getFileName().toString() + ".");
        assertThat(r.pgDumpVersion()).startsWith("pg_dump (PostgreSQL) ");
        Map<String, Object> m = DatabaseRecord.Postgres.of(r).fields();
        assertThat(m.keySet()).containsExactly("engine", "method", "host", "port", "dbname", "user", "server-version",
                "pg-dump-version", "encoding", "collation", "ctype", "schema-version", "excluded-table-data",
                "dump-entries", "dump-bytes", "dump-sha256");
        assertThat(m.get("engine")).isEqualTo("postgresql");
        assertThat(m.get("method")).isEqualTo("pg_dump -Fc");

        // Restore into a new database (the name of the config decides).
        PostgresRestore.Result rr = new PostgresRestore(tools(), tmp).restore(PG.config("restored"), chunks,
                PostgresRestore.Options.refuseExisting());
        assertThat(rr.created()).isTrue();
        assertThat(rr.previous()).isNull();
        assertThat(rr.tables()).isEqualTo(5);
        assertThat(PG.superSql("postgres", "SELECT pg_encoding_to_char(encoding), datcollate, datctype,"
                + " pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'restored'"))
                .isEqualTo("UTF8|C|C|" + PostgresServer.USER);
        Map<String, String> restored = SynapseSchema.snapshot(PG, "restored");
        for (String t : List.of("users", "rooms", "schema_version")) {
            assertThat(restored.get(t)).as(t).isEqualTo(stable.get(t));
        }
        assertThat(restored.get("e2e_one_time_keys_json")).isEqualTo("0|-");
        assertThat(stable.get("e2e_one_time_keys_json")).startsWith("3000|");
        // The concurrently written table: a consistent prefix of the live one.
        long n = count("restored", "events");
        assertThat(n).isBetween(before + 20, after);
        String maxId = PG.superSql("restored", "SELECT max(stream_ordering) FROM events");
        String prefix = "SELECT count(*) || '|' || md5(string_agg(t::text, ',' ORDER BY stream_ordering)) FROM events t"
                + " WHERE stream_ordering <= " + maxId;
        assertThat(PG.superSql("restored", prefix)).isEqualTo(PG.superSql(SOURCE, prefix));
        assertThat(PG.superSql("restored", "SELECT last_value >= " + maxId + " FROM events_stream_seq")).isEqualTo("t");

        // pg_restore --list on the good dump.
        PostgresRestore.Listing l = new PostgresRestore(tools(), tmp).listDump(chunks);
        assertThat(l.entries()).isGreaterThan(10);
        assertThat(l.bytes()).isEqualTo(r.bytes());
        assertThat(l.sha256()).isEqualTo(r.sha256());
    }

    @Test
    void passwordNeverInArgvAndKillMidwayFails() throws Exception {
        PostgresDump dumper = new PostgresDump(tools(), 64 * 1024, tmp);
        AtomicInteger calls = new AtomicInteger();
        List<String> argvs = new ArrayList<>();
        assertThatThrownBy(() -> dumper.dump(PG.config(SOURCE), (name, data, size) -> {
            data.transferTo(OutputStream.nullOutputStream());
            if (calls.incrementAndGet() == 1) {
                List<ProcessHandle> dumps = ProcessHandle.current().children()
                        .filter(h -> h.info().command().orElse("").endsWith("/pg_dump")).toList();
                assertThat(dumps).hasSize(1);
                ProcessHandle h = dumps.get(0);
                String cmdline = Files.readString(Path.of("/proc/" + h.pid() + "/cmdline"), StandardCharsets.UTF_8);
                argvs.add(cmdline);
                argvs.add(String.join(" ", h.info().arguments().orElse(new String[0])));
                String env = Files.readString(Path.of("/proc/" + h.pid() + "/environ"), StandardCharsets.UTF_8);
                assertThat(env).contains("PGPASSFILE=").doesNotContain("PGPASSWORD=");
                assertThat(h.destroyForcibly()).isTrue(); // SIGKILL
            }
        })).isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining("pg_dump was killed (signal 9)")
                .hasMessageContaining("database \"" + SOURCE + "\" on PostgreSQL server 127.0.0.1:" + PG.port());
        assertThat(argvs).hasSize(2).allSatisfy(a -> {
            assertThat(a).contains("--exclude-table-data=e2e_one_time_keys_json").contains("dbname='synapse'");
            assertThat(a).doesNotContain("s3cr").doesNotContain("password");
        });
        // The last chunk is never handed out for a failed dump: far fewer than a whole dump's.
        assertThat(calls.get()).isLessThan(20);
        try (var s = Files.list(tmp)) {
            assertThat(s.filter(p -> p.getFileName().toString().contains("pgpass"))).isEmpty();
        }
    }

    @Test
    void wrongPasswordIsAClearErrorAndCreatesNothing() throws Exception {
        assertThatThrownBy(() -> new PostgresDump(tools(), 65536, tmp).dump(PG.config(SOURCE, "wrong"), (n, d, s) -> {
            throw new AssertionError("no chunk expected");
        })).isInstanceOf(SynapseBackupException.class)
                .hasMessageStartingWith("PostgreSQL authentication failed for database \"synapse\" on PostgreSQL server"
                        + " 127.0.0.1:" + PG.port() + " as user \"synapse_user\"")
                .hasMessageNotContaining("wrong")
                .extracting(e -> ((SynapseBackupException) e).exitCode()).isEqualTo(1);
        assertThatThrownBy(() -> new PostgresRestore(tools(), tmp).restore(PG.config("never_created", "wrong"),
                new ByteArrayInputStream(new byte[] {1}), PostgresRestore.Options.refuseExisting()))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageStartingWith("PostgreSQL authentication failed");
        assertThat(PG.superSql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'never_created'"))
                .isEqualTo("0");
    }

    @Test
    void unreachableServerAndMissingProgramsAreNamed() throws Exception {
        DatabaseConfig.Postgres closed = new DatabaseConfig.Postgres("127.0.0.1", 1, PostgresServer.USER,
                dev.synapsebackup.config.Secret.of("x"), SOURCE, Map.of());
        assertThatThrownBy(() -> new PostgresDump(tools(), 65536, tmp).dump(closed, (n, d, s) -> { }))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageStartingWith("cannot reach the PostgreSQL server for database \"synapse\" on PostgreSQL"
                        + " server 127.0.0.1:1");
        PgTools none = new PgTools(List.of(tmp));
        assertThatThrownBy(() -> new PostgresDump(none, 65536, tmp).dump(PG.config(SOURCE), (n, d, s) -> { }))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining("not found (looked in /usr/lib/postgresql/*/bin and PATH)");
        assertThatThrownBy(() -> new PostgresRestore(none, tmp).listDump(new ByteArrayInputStream(new byte[] {1})))
                .hasMessageStartingWith("pg_restore not found");
    }

    @Test
    void populatedTargetRefusedThenReplacedWithDropExisting() throws Exception {
        AtomicReference<PostgresDump.Result> res = new AtomicReference<>();
        List<Path> chunks = dumpToFiles(new PostgresDump(tools(), 1 << 20, tmp), SOURCE, tmp.resolve("d"), res);
        PG.createSynapseDatabase("target");
        PG.userSql("target", "CREATE TABLE old_stuff (x int); INSERT INTO old_stuff VALUES (42)");
        PostgresRestore restore = new PostgresRestore(tools(), tmp);
        assertThatThrownBy(() -> restore.restore(PG.config("target"), chunks, PostgresRestore.Options.refuseExisting()))
                .isInstanceOf(SynapseBackupException.class)
                .hasMessageContaining("\"target\"").hasMessageContaining("already exists and has 1 tables")
                .hasMessageContaining("--drop-existing");
        assertThat(PG.superSql("target", "SELECT x FROM old_stuff")).isEqualTo("42");

        // A failing restore (a truncated dump) leaves the old contents as they were.
        byte[] whole = concat(chunks);
        assertThatThrownBy(() -> restore.restore(PG.config("target"),
                new ByteArrayInputStream(whole, 0, whole.length / 2), new PostgresRestore.Options(true, false, "t1")))
                .isInstanceOf(SynapseBackupException.class).hasMessageContaining("pg_restore");
        assertThat(PG.superSql("target", "SELECT x FROM old_stuff")).isEqualTo("42");
        assertThat(PG.superSql("target", "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'public_pre%'"))
                .isEqualTo("0");

        // A session on the old database (Synapse not quite gone) is terminated for the restore.
        Process idle = PG.userSqlAsync("target", "SELECT pg_sleep(60)");
        Await.until("the idle session on target", Duration.ofSeconds(60), () -> PG.superSql("postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'target' AND query = 'SELECT pg_sleep(60)'")
                .equals("1"));
        PostgresRestore.Result r = restore.restore(PG.config("target"), chunks, new PostgresRestore.Options(true, true, "t2"));
        idle.destroyForcibly();
        assertThat(r.previous()).isEqualTo("public_pre_restore_t2");
        assertThat(r.previousDropped()).isFalse();
        assertThat(r.created()).isFalse();
        assertThat(PG.superSql("target", "SELECT x FROM public_pre_restore_t2.old_stuff")).isEqualTo("42");
        Map<String, String> src = SynapseSchema.snapshot(PG, SOURCE);
        Map<String, String> got = SynapseSchema.snapshot(PG, "target");
        assertThat(got.get("users")).isEqualTo(src.get("users"));
        assertThat(got.get("e2e_one_time_keys_json")).isEqualTo("0|-");

        // Once more without keeping: the previous contents are dropped in the same transaction.
        PostgresRestore.Result r3 = restore.restore(PG.config("target"), chunks, new PostgresRestore.Options(true, false, "t3"));
        assertThat(r3.previousDropped()).isTrue();
        assertThat(PG.superSql("target", "SELECT count(*) FROM pg_namespace WHERE nspname = 'public_pre_restore_t3'"))
                .isEqualTo("0");

        // A role with CREATEDB creates a missing database itself.
        PostgresRestore.Result r5 = restore.restore(PG.config("created_by_self"), chunks, PostgresRestore.Options.refuseExisting());
        assertThat(r5.created()).isTrue();
        assertThat(r5.createdBy()).isEqualTo("self");
        assertThat(SynapseSchema.snapshot(PG, "created_by_self").get("rooms")).isEqualTo(src.get("rooms"));

        // An existing empty database (made by an admin) is restored into as it is.
        PG.createSynapseDatabase("empty_target");
        PostgresRestore.Result r4 = restore.restore(PG.config("empty_target"), chunks, PostgresRestore.Options.refuseExisting());
        assertThat(r4.created()).isFalse();
        assertThat(SynapseSchema.snapshot(PG, "empty_target").get("rooms")).isEqualTo(src.get("rooms"));
    }

    @Test
    void listDumpRejectsACorruptDump() throws Exception {
        PostgresRestore restore = new PostgresRestore(tools(), tmp);
        byte[] junk = "this is not a dump at all".getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> restore.listDump(new ByteArrayInputStream(junk)))
                .isInstanceOf(IntegrityException.class)
                .hasMessageStartingWith("the PostgreSQL dump is not a readable pg_dump archive (pg_restore --list:");
        AtomicReference<PostgresDump.Result> res = new AtomicReference<>();
        List<Path> chunks = dumpToFiles(new PostgresDump(tools(), 1 << 20, tmp), SOURCE, tmp.resolve("l"), res);
        byte[] whole = concat(chunks);
        assertThat(restore.listDump(new ByteArrayInputStream(whole)).entries()).isGreaterThan(10);
        assertThatThrownBy(() -> restore.listDump(new ByteArrayInputStream(whole, 0, 200)))
                .isInstanceOf(IntegrityException.class);
    }

    @Test
    void clientOlderThanServerIsRefusedBeforeDumping() throws Exception {
        Path fake = Files.createDirectories(tmp.resolve("oldbin"));
        Path exe = fake.resolve("pg_dump");
        Files.writeString(exe, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n");
        exe.toFile().setExecutable(true);
        PgTools old = new PgTools(List.of(fake, PG.binDir()));
        assertThatThrownBy(() -> new PostgresDump(old, 65536, tmp).dump(PG.config(SOURCE), (n, d, s) -> {
            throw new AssertionError("no chunk expected");
        })).isInstanceOf(SynapseBackupException.class)
                .hasMessageStartingWith("pg_dump 9 (" + exe + ") is older than the PostgreSQL "
                        + PG.binDir().getParent().getFileName() + " server of database \"synapse\"")
                .hasMessageContaining("install postgresql-client-");
    }

    @Test
    void stockCommandsRestoreTheConcatenatedChunks() throws Exception {
        AtomicReference<PostgresDump.Result> res = new AtomicReference<>();
        Path dir = tmp.resolve("stock");
        dumpToFiles(new PostgresDump(tools(), 100_000, tmp), SOURCE, dir, res);
        Path dump = tmp.resolve("synapse.pgdump");
        // Synapse's documented role (no CREATEDB): postgres creates the database, the role loads the dump.
        List<String> cmds = PostgresRestore.stockCommands(PG.docConfig("stock_copy"), dump);
        assertThat(cmds).hasSize(2);
        assertThat(cmds.get(0)).isEqualTo("sudo -u postgres createdb -p " + PG.port() + " --encoding=UTF8 --locale=C"
                + " --template=template0 --owner=synapse_doc stock_copy");
        assertThat(cmds.get(1)).startsWith("pg_restore -h 127.0.0.1 -p " + PG.port() + " -U synapse_doc --no-owner");
        // No sudo or peer socket here: "postgres" connects over TCP with its password (from a passfile, as ~/.pgpass).
        Path pgpass = tmp.resolve("pgpass");
        Files.writeString(pgpass, "*:*:*:postgres:" + PostgresServer.SUPERUSER_PASSWORD + "\n*:*:*:synapse_doc:"
                + PostgresServer.DOC_PASSWORD.replace("\\", "\\\\").replace(":", "\\:") + "\n");
        Files.setPosixFilePermissions(pgpass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        String script = "set -euo pipefail\ncd " + dev.synapsebackup.testing.Procs.q(dir) + "\n"
                + "cat synapse.pgdump.* > " + dev.synapsebackup.testing.Procs.q(dump) + "\n"
                + cmds.get(0).substring("sudo -u postgres ".length()) + "\n" + cmds.get(1) + "\n";
        var r = dev.synapsebackup.testing.Procs.bash(script, Map.of("PGPASSFILE", pgpass.toString(), "PGHOST", "127.0.0.1",
                "PGUSER", "postgres", "PATH", PG.binDir() + ":" + System.getenv("PATH")), tmp);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(Sha256.hex(Sha256.newDigest().digest(Files.readAllBytes(dump)))).isEqualTo(res.get().sha256());
        Map<String, String> src = SynapseSchema.snapshot(PG, SOURCE);
        Map<String, String> got = SynapseSchema.snapshot(PG, "stock_copy");
        assertThat(got.get("users")).isEqualTo(src.get("users"));
        assertThat(got.get("rooms")).isEqualTo(src.get("rooms"));
        assertThat(got.get("e2e_one_time_keys_json")).isEqualTo("0|-");
    }

    @Test
    void namesAreSafeAndBounded() {
        assertThat(PostgresDump.chunkName("synapse", 1)).isEqualTo(".synapse-backup/postgresql/synapse.pgdump.000001");
        assertThat(PostgresDump.chunkName("../x y", 12)).isEqualTo(".synapse-backup/postgresql/_.._x_y.pgdump.000012");
        assertThat(SchemaSwap.asideName("20260101120000123456")).isEqualTo("public_pre_restore_20260101120000123456");
        assertThat(SchemaSwap.asideName("x".repeat(63))).hasSize(63).startsWith("public_pre_restore_xxx");
        assertThat(PgQuote.ident("a\"b")).isEqualTo("\"a\"\"b\"");
        assertThat(PgQuote.literal("it's")).isEqualTo("'it''s'");
    }

    static byte[] concat(List<Path> chunks) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (Path c : chunks) {
            try (InputStream in = Files.newInputStream(c)) {
                in.transferTo(out);
            }
        }
        return out.toByteArray();
    }
}
