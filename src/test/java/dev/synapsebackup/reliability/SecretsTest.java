package dev.synapsebackup.reliability;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command at --verbose, in the real launcher, with a known passphrase, S3 secret key and
 * database password: none of them appears in stdout, stderr, any file the tool wrote (its temp
 * directory, the repository, the target), exception messages (printed in full at --verbose), or
 * the argv of any process running while the stop/start commands run.
 */
@Tag("slow")
class SecretsTest {
    private static final String PASSPHRASE = "pass-" + UUID.randomUUID();
    private static final String DB_PASSWORD = "dbpw-" + UUID.randomUUID();

    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    @TempDir
    Path tmp;

    private final List<Path> outputs = new ArrayList<>();
    private int runs;

    private record Run(int exit, String stdout, String stderr) {
    }

    private Run run(Path config, Path childTmp, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("--config", config.toString(), "--verbose"));
        Path logs = tmp.resolve("logs-" + (++runs));
        Process p = Launcher.start(a, Map.of(), logs, "200m", childTmp);
        int exit = Launcher.await(p, 120);
        outputs.add(logs);
        return new Run(exit, Files.readString(logs.resolve("stdout")), Files.readString(logs.resolve("stderr")));
    }

    /** Every byte of every regular file under {@code root} is free of the secrets (as text). */
    private static void assertNoSecretIn(Path root, List<String> secrets) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p)) {
                    String content = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
                    for (String secret : secrets) {
                        assertThat(content).as("%s holds a secret", p).doesNotContain(secret);
                    }
                }
            }
        }
    }

    @Test
    void noCommandExposesAnySecret() throws Exception {
        Path hs = tmp.resolve("hs");
        Path yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(6, 500_000));
        S3.createBucket("secrets");
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, PASSPHRASE + "\n");
        Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-------"));
        Path argvLog = tmp.resolve("argv.log");
        Path svc = tmp.resolve("svc.sh");
        // Records the argv of every process on the machine while Synapse is "stopped"/"started".
        Files.writeString(svc, """
                #!/bin/bash
                for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done >> %s
                """.formatted(q(argvLog)));
        Files.setPosixFilePermissions(svc, PosixFilePermissions.fromString("rwx------"));
        Path config = tmp.resolve("config.yaml");
        Files.writeString(config, """
                synapse-config: %s
                passphrase-file: %s
                s3:
                  access-key: %s
                  secret-key: %s
                  endpoint: %s
                  bucket: secrets
                  s3-uri-style: path
                service:
                  stop-command: [%s, stop]
                  start-command: [%s, start]
                """.formatted(yaml, pass, S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY, S3.endpoint(), svc, svc));
        List<String> secrets = List.of(PASSPHRASE, S3ProxyServer.SECRET_KEY, DB_PASSWORD);
        Path childTmp = Files.createDirectories(tmp.resolve("child-tmp"));

        Run check = run(config, childTmp, "check");
        assertThat(check.exit).as(check.stderr).isZero();
        Run create = run(config, childTmp, "create");
        assertThat(create.exit).as(create.stderr).isZero();
        String id = create.stdout.strip().lines().reduce((a, b) -> b).orElseThrow();
        for (String[] cmd : List.of(new String[] {"list"}, new String[] {"list", "--json"}, new String[] {"show", id},
                new String[] {"show", id, "--json"}, new String[] {"verify", id}, new String[] {"restore", id, "--dry-run"},
                new String[] {"restore", id, "--print-command"})) {
            Run r = run(config, childTmp, cmd);
            assertThat(r.exit).as(String.join(" ", cmd) + ": " + r.stderr).isZero();
        }
        Path target = Files.createDirectories(tmp.resolve("target"));
        assertThat(run(config, childTmp, "restore", id, "--target", target.toString()).exit).isZero();
        Run live = run(config, childTmp, "restore", id);
        assertThat(live.exit).as(live.stderr).isZero();
        assertThat(argvLog).exists();

        // Failure paths print stack traces at --verbose: their messages must not hold secrets either.
        Path wrongPass = tmp.resolve("wrong-passphrase");
        Files.writeString(wrongPass, "not-" + PASSPHRASE + "\n");
        Path wrongConfig = tmp.resolve("wrong.yaml");
        Files.writeString(wrongConfig, Files.readString(config).replace(pass.toString(), wrongPass.toString()));
        Run wrong = run(wrongConfig, childTmp, "verify", id);
        assertThat(wrong.exit).isEqualTo(5);
        assertThat(wrong.stderr).contains("\tat "); // --verbose really shows the trace
        Path badKeyConfig = tmp.resolve("badkey.yaml");
        Files.writeString(badKeyConfig, Files.readString(config).replace("access-key: " + S3ProxyServer.ACCESS_KEY,
                "access-key: unknown-key"));
        Run denied = run(badKeyConfig, childTmp, "list");
        assertThat(denied.exit).as(denied.stderr.lines().filter(l -> !l.startsWith("\tat")).toList().toString()).isEqualTo(3);

        // A PostgreSQL homeserver.yaml with a password: whatever create does with it, the password stays hidden.
        Path pgYaml = tmp.resolve("pg/homeserver.yaml");
        Files.createDirectories(pgYaml.getParent());
        Files.writeString(pgYaml, Files.readString(yaml).replaceAll("(?s)database:.*?(\\n\\S)", """
                database:
                  name: psycopg2
                  args:
                    user: synapse
                    password: %s
                    database: synapse
                    host: 127.0.0.1
                    port: 1
                $1""".formatted(DB_PASSWORD)));
        Path pgConfig = tmp.resolve("pg.yaml");
        Files.writeString(pgConfig, Files.readString(config).replace(yaml.toString(), pgYaml.toString()));
        run(pgConfig, childTmp, "create");
        run(pgConfig, childTmp, "check");

        Run deleted = run(config, childTmp, "delete", id);
        assertThat(deleted.exit).as(deleted.stderr).isZero();

        for (Path o : outputs) {
            assertNoSecretIn(o, secrets);
        }
        assertNoSecretIn(childTmp, secrets);
        assertNoSecretIn(target, secrets);
        assertNoSecretIn(argvLog.getParent().resolve("argv.log"), secrets);
        assertThat(Files.readString(argvLog)).contains("svc.sh stop").contains("svc.sh start");

        // toString() of the loaded configuration (as a debugger or a log line would show it).
        ToolConfig loaded = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(config, null, null, null, null,
                null, null, null, null));
        for (String secret : secrets) {
            assertThat(loaded.toString()).doesNotContain(secret);
            assertThat(String.valueOf(loaded.s3().orElseThrow())).doesNotContain(secret);
        }
    }

    /**
     * The service stop/start commands of a live restore see none of the tool's secrets in their
     * environment, though the tool itself got them from its environment.
     */
    @Test
    void serviceCommandsInheritNoSecret() throws Exception {
        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(2, 10_000));
        Path envLog = tmp.resolve("env.log");
        Path svc = tmp.resolve("svc.sh");
        Files.writeString(svc, """
                #!/bin/bash
                echo "== $1" >> %s
                env >> %s
                """.formatted(q(envLog), q(envLog)));
        Files.setPosixFilePermissions(svc, PosixFilePermissions.fromString("rwx------"));
        Path config = tmp.resolve("config.yaml");
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                service:
                  stop-command: [%s, stop]
                  start-command: [%s, start]
                """.formatted(yaml, tmp.resolve("repo"), svc, svc));
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
        String awsSecret = "aws-secret-" + UUID.randomUUID();
        String awsToken = "aws-token-" + UUID.randomUUID();
        String identity = "identity-" + UUID.randomUUID();
        Map<String, String> env = Map.of("SYNAPSE_BACKUP_PASSPHRASE", PASSPHRASE, "AWS_SECRET_ACCESS_KEY", awsSecret,
                "AWS_SESSION_TOKEN", awsToken, "SYNAPSE_BACKUP_IDENTITY_PASSPHRASE_FILE", "/run/" + identity,
                "SOME_SERVICE_PASSWORD", identity, "SYNAPSE_BACKUP_TEST_VISIBLE", "visible");
        Path childTmp = Files.createDirectories(tmp.resolve("child-tmp"));
        List<String> base = List.of("--config", config.toString());
        Path logs = tmp.resolve("create-logs");
        int created = Launcher.await(Launcher.start(concat(List.of("create", "--quiet"), base), env, logs, "200m", childTmp), 120);
        assertThat(created).as(Files.readString(logs.resolve("stderr"))).isZero();
        String id = Files.readString(logs.resolve("stdout")).strip();
        Path restoreLogs = tmp.resolve("restore-logs");
        int restored = Launcher.await(Launcher.start(concat(List.of("restore", id), base), env, restoreLogs, "200m",
                childTmp), 120);
        assertThat(restored).as(Files.readString(restoreLogs.resolve("stderr"))).isZero();

        String seen = Files.readString(envLog);
        assertThat(seen).contains("== stop").contains("== start").contains("SYNAPSE_BACKUP_TEST_VISIBLE=visible");
        for (String secret : List.of(PASSPHRASE, awsSecret, awsToken, identity)) {
            assertThat(seen).doesNotContain(secret);
        }
        assertThat(seen).doesNotContain("SYNAPSE_BACKUP_PASSPHRASE").doesNotContain("AWS_SECRET_ACCESS_KEY")
                .doesNotContain("AWS_SESSION_TOKEN");
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> r = new ArrayList<>(a);
        r.addAll(b);
        return r;
    }

    /** A config file holding secret-key, or a passphrase file, readable by others: one warning each. */
    @Test
    void warnsAboutSecretsReadableByOthers() throws Exception {
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, PASSPHRASE + "\n");
        Path config = tmp.resolve("config.yaml");
        Files.writeString(config, """
                passphrase-file: %s
                s3:
                  access-key: some-key
                  secret-key: some-secret
                  endpoint: http://127.0.0.1:1
                  bucket: b
                """.formatted(pass));
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-r-----"));
        Cli.Result open = new Cli().run("list", "--config", config.toString());
        assertThat(open.stderr().lines().filter(l -> l.startsWith("warning:")).toList()).containsExactly(
                "warning: " + config + " holds the S3 secret-key and is readable by its group and others (mode rw-r--r--):"
                        + " make it readable by its owner only (chmod 600 " + config + ")",
                "warning: " + pass + " holds the backup passphrase and is readable by its group (mode rw-r-----):"
                        + " make it readable by its owner only (chmod 600 " + pass + ")");

        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
        Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-------"));
        Cli.Result closed = new Cli().run("list", "--config", config.toString());
        assertThat(closed.stderr()).doesNotContain("warning:");

        // A readable config file without secret-key is no secret.
        Files.writeString(config, Files.readString(config).replaceAll("(?m)^  (access|secret)-key:.*\n", ""));
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));
        assertThat(new Cli().run("list", "--config", config.toString()).stderr()).doesNotContain("warning:");
    }
}
