package dev.synapsebackup.backup;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.PostgresServer;
import dev.synapsebackup.testing.SynapseSchema;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A Synapse-on-PostgreSQL layout through create → verify → restore, against a real PostgreSQL server. */
class PostgresBackupTest {
    @RegisterExtension
    static final PostgresServer PG = new PostgresServer();

    private static int databases;

    @TempDir
    Path tmp;

    Path hs;
    Path yaml;
    Path config;
    String db;

    @BeforeEach
    void setUp() throws Exception {
        db = "synapse" + (++databases);
        PG.createSynapseDatabase(db);
        PG.userSql(db, SynapseSchema.SCHEMA);
        PG.userSql(db, SynapseSchema.DATA);
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(20, 1_000_000));
        writeDatabaseConfig(PostgresServer.PASSWORD);
        Files.writeString(tmp.resolve("passphrase"), "pg passphrase\n");
        Path state = tmp.resolve("state");
        Files.writeString(state, "started\n");
        Path script = tmp.resolve("svc.sh");
        Files.writeString(script, "#!/bin/bash\necho \"$1\" >> " + q(tmp.resolve("service.log")) + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        config = tmp.resolve("config.yaml");
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                service:
                  stop-command: [%s, stop]
                  start-command: [%s, start]
                """.formatted(yaml, tmp.resolve("repo"), tmp.resolve("passphrase"), script, script));
    }

    /** Points homeserver.yaml at the test server's database, as a Synapse-on-PostgreSQL config does. */
    @SuppressWarnings("unchecked")
    private void writeDatabaseConfig(String password) throws IOException {
        writeDatabaseConfig(PostgresServer.USER, password);
    }

    @SuppressWarnings("unchecked")
    private void writeDatabaseConfig(String user, String password) throws IOException {
        org.yaml.snakeyaml.Yaml y = new org.yaml.snakeyaml.Yaml();
        Map<String, Object> cfg = (Map<String, Object>) y.load(Files.readString(yaml));
        Map<String, Object> args = new java.util.LinkedHashMap<>();
        args.put("user", user);
        args.put("password", password);
        args.put("database", db);
        args.put("host", "127.0.0.1");
        args.put("port", PG.port());
        args.put("sslmode", "disable");
        args.put("cp_min", 5);
        args.put("cp_max", 10);
        cfg.put("database", Map.of("name", "psycopg2", "args", args));
        Files.writeString(yaml, y.dump(cfg));
    }

    private Cli.Result cli(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--config";
        all[args.length + 1] = config.toString();
        return new Cli().run(all);
    }

    private Map<String, String> files() throws IOException {
        Map<String, String> fp = new TreeMap<>(Trees.fingerprint(hs));
        fp.values().removeIf("dir"::equals);
        fp.keySet().removeIf(k -> k.startsWith("data/homeserver.db"));
        return fp;
    }

    @Test
    void createVerifyRestoreRoundTrip() throws Exception {
        Map<String, String> atBackup = SynapseSchema.snapshot(PG, db);
        Map<String, String> filesAtBackup = files();
        Cli.Result c = cli("create", "--json", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = new ObjectMapper().readTree(c.stdout()).get("backup-id").asText();
        assertThat(c.stdout() + c.stderr()).doesNotContain(PostgresServer.PASSWORD);

        Cli.Result s = cli("show", id, "--json");
        JsonNode database = new ObjectMapper().readTree(s.stdout()).get("database");
        assertThat(database.get("engine").asText()).isEqualTo("postgresql");
        assertThat(database.get("encoding").asText()).isEqualTo("UTF8");
        assertThat(database.get("schema-version").asInt()).isEqualTo(83);
        assertThat(database.get("dump-entries").size()).isPositive();
        assertThat(s.stdout()).doesNotContain(PostgresServer.PASSWORD);

        Cli.Result v = cli("verify", id);
        assertThat(v.exitCode()).as(v.toString()).isZero();

        // The live server moves on; then a restore must refuse to overwrite a populated database...
        PG.userSql(db, "DELETE FROM events WHERE stream_ordering % 2 = 0; INSERT INTO users (name) VALUES ('@late:example.org');");
        Files.writeString(yaml, Files.readString(yaml) + "\n# edited\n");
        Map<String, String> mutated = SynapseSchema.snapshot(PG, db);
        Map<String, String> mutatedFiles = files();
        Cli.Result refused = cli("restore", id);
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(1);
        assertThat(refused.stderr()).contains("--drop-existing");
        assertThat(SynapseSchema.snapshot(PG, db)).isEqualTo(mutated);
        assertThat(files()).isEqualTo(mutatedFiles);
        assertThat(leftovers()).isEmpty();

        // ...and with --drop-existing brings back database and files as they were.
        Cli.Result r = cli("restore", id, "--drop-existing");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        Map<String, String> restored = SynapseSchema.snapshot(PG, db);
        Map<String, String> expected = new TreeMap<>(atBackup);
        restored = new TreeMap<>(restored);
        assertThat(restored.remove("e2e_one_time_keys_json")).isEqualTo("0|-");
        expected.remove("e2e_one_time_keys_json");
        assertThat(restored).isEqualTo(expected);
        assertThat(files()).isEqualTo(filesAtBackup);
        assertThat(Files.readAllLines(tmp.resolve("service.log"))).containsExactly("stop", "start");
        assertThat(PG.superSql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE '" + db + "_pre_restore_%'"))
                .isEqualTo("0");
        assertThat(leftovers()).isEmpty();
    }

    /**
     * Synapse's documented setup: a role without CREATEDB owning a database the superuser created.
     * A live restore over later data, then a disaster on a new (empty) server, without and with an
     * admin connection.
     */
    @Test
    void documentedRoleRestoresOverLaterDataAndOnAnEmptyServer() throws Exception {
        db = "docsynapse" + (++databases);
        PG.createSynapseDatabase(db, PostgresServer.DOC_USER);
        PG.docSql(db, SynapseSchema.SCHEMA);
        PG.docSql(db, SynapseSchema.DATA);
        writeDatabaseConfig(PostgresServer.DOC_USER, PostgresServer.DOC_PASSWORD);
        Map<String, String> expected = new TreeMap<>(SynapseSchema.snapshot(PG, db));
        assertThat(expected.remove("e2e_one_time_keys_json")).startsWith("3000|");
        Cli.Result c = cli("create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();

        PG.docSql(db, "DELETE FROM events WHERE stream_ordering % 2 = 0; INSERT INTO users (name) VALUES ('@late:example.org');"
                + " CREATE TABLE later_table (x int)");
        Cli.Result r = cli("restore", id, "--drop-existing");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        Map<String, String> restored = new TreeMap<>(SynapseSchema.snapshot(PG, db));
        assertThat(restored.remove("e2e_one_time_keys_json")).isEqualTo("0|-");
        assertThat(restored).isEqualTo(expected);
        assertThat(PG.superSql(db, "SELECT to_regclass('public.later_table') IS NULL")).isEqualTo("t");
        assertThat(r.stdout() + r.stderr()).contains("replacing its contents in one transaction")
                .doesNotContain("public_pre_restore_");

        // --keep-previous says where the previous contents are and how to drop them.
        Cli.Result k = cli("restore", id, "--drop-existing", "--keep-previous");
        assertThat(k.exitCode()).as(k.toString()).isZero();
        String aside = "public_pre_restore_" + id.substring("backup-".length());
        assertThat(k.stdout() + k.stderr()).contains("DROP SCHEMA " + aside + " CASCADE");
        PG.docSql(db, "DROP SCHEMA " + aside + " CASCADE");
        try (Stream<Path> kept = Files.walk(tmp)) { // the files it kept too, as an admin would once satisfied
            for (Path p : kept.filter(p -> p.getFileName().toString().contains(".pre-restore-")).toList()) {
                WorkDir.deleteTemporary(p);
            }
        }

        // A new, empty PostgreSQL server: the role exists, the database does not.
        PG.superSql("postgres", "DROP DATABASE " + db + " WITH (FORCE)");
        Cli.Result refused = cli("restore", id);
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(1);
        assertThat(refused.stderr()).contains("sudo -u postgres createdb -p " + PG.port()
                + " --encoding=UTF8 --locale=C --template=template0 --owner=" + PostgresServer.DOC_USER + " " + db);
        assertThat(Files.readAllLines(tmp.resolve("service.log"))).containsExactly("stop", "start", "stop", "start");

        Path pw = tmp.resolve("pg-admin-password");
        Files.writeString(pw, PostgresServer.SUPERUSER_PASSWORD + "\n");
        Files.writeString(config, Files.readString(config) + "postgres:\n  admin-user: postgres\n  admin-password-file: " + pw + "\n");
        Cli.Result fresh = cli("restore", id);
        assertThat(fresh.exitCode()).as(fresh.toString()).isZero();
        assertThat(fresh.stdout() + fresh.stderr()).doesNotContain(PostgresServer.SUPERUSER_PASSWORD)
                .contains("created PostgreSQL database " + db + " through the admin connection");
        assertThat(PG.superSql("postgres", "SELECT pg_encoding_to_char(encoding), datcollate, datctype,"
                + " pg_get_userbyid(datdba) FROM pg_database WHERE datname = '" + db + "'"))
                .isEqualTo("UTF8|C|C|" + PostgresServer.DOC_USER);
        restored = new TreeMap<>(SynapseSchema.snapshot(PG, db));
        assertThat(restored.remove("e2e_one_time_keys_json")).isEqualTo("0|-");
        assertThat(restored).isEqualTo(expected);
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void wrongDatabasePasswordFailsBeforeAnythingIsUploaded() throws Exception {
        writeDatabaseConfig("not-the-password");
        Cli.Result c = cli("create");
        assertThat(c.exitCode()).as(c.toString()).isEqualTo(1);
        assertThat(c.stderr()).containsIgnoringCase("authentication").doesNotContain("not-the-password");
        try (Stream<Path> s = Files.list(tmp.resolve("repo"))) {
            assertThat(s.filter(p -> !p.getFileName().toString().startsWith(".")).toList()).isEmpty();
        }
    }

    @Test
    void targetRestoreWritesTheDumpAndTheCommandsToLoadIt() throws Exception {
        Cli.Result c = cli("create", "--quiet");
        String id = c.lastLine();
        Path target = tmp.resolve("target");
        Cli.Result r = cli("restore", id, "--target", target.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        Path dump = target.resolve(".synapse-backup/postgresql/" + db + ".pgdump");
        assertThat(dump).isRegularFile();
        assertThat(r.stderr()).contains("pg_restore").contains("createdb");
        try (Stream<Path> s = Files.list(dump.getParent())) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly(db + ".pgdump");
        }
    }

    private List<String> leftovers() throws IOException {
        try (Stream<Path> s = Files.walk(tmp)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(".pre-restore-") || n.startsWith(".synapse-restore-")).toList();
        }
    }
}
