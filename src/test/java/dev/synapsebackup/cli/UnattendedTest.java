package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §7 around real commands: the Prometheus textfile (read back by promtool), hook scripts
 * and a Healthchecks-style ping server on loopback.
 */
class UnattendedTest {
    @TempDir
    Path dir;

    private HttpServer server;
    private final List<String> pings = Collections.synchronizedList(new ArrayList<>());
    /** Paths the ping server answers with 500. */
    private final Set<String> failing = Collections.synchronizedSet(new java.util.HashSet<>());
    private Path yaml;
    private Path repo;
    private Path passphrase;

    @BeforeEach
    void setUp() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            String target = exchange.getRequestMethod() + " " + exchange.getRequestURI();
            pings.add(target);
            int status = failing.contains(exchange.getRequestURI().getPath()) ? 500 : 200;
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        server.start();
        yaml = SampleHomeserver.generate(dir.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(4, 100_000));
        repo = Files.createDirectory(dir.resolve("repo"));
        passphrase = dir.resolve("passphrase");
        Files.writeString(passphrase, "correct horse\n");
    }

    @AfterEach
    void tearDown() {
        server.stop(0);
    }

    private String pingBase() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/ping/abc-123";
    }

    /** A hook script that records its environment into {@code <dir>/<name>.env}, prints noise and exits {@code code}. */
    private Path hook(String name, int code) throws IOException {
        Path script = dir.resolve(name + ".sh");
        Files.writeString(script, "#!/bin/sh\nenv > '" + dir.resolve(name + ".env") + "'\necho hook output on stdout\nexit " + code + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private Map<String, String> env(String name) throws IOException {
        Map<String, String> m = new HashMap<>();
        for (String line : Files.readAllLines(dir.resolve(name + ".env"))) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    private Path config(String extra) throws IOException {
        Path c = dir.resolve("config.yaml");
        Files.writeString(c, "synapse-config: " + yaml + "\nrepository: " + repo + "\npassphrase-file: " + passphrase
                + "\n" + extra);
        return c;
    }

    private Cli cli() {
        return new Cli().env("PATH", System.getenv("PATH")).env("HOOK_MARK", "visible")
                .env("SYNAPSE_BACKUP_PASSPHRASE_FILE", passphrase.toString())
                .env("AWS_SECRET_ACCESS_KEY", "secret-from-env").env("AWS_SESSION_TOKEN", "token-from-env")
                .env("PGPASSWORD", "pg-secret");
    }

    /** Runs {@code promtool check metrics} on the file: the real parser and linter of the format. */
    private static void promtool(Path metrics) throws Exception {
        Process p = new ProcessBuilder("promtool", "check", "metrics").redirectInput(metrics.toFile())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("promtool check metrics:\n" + output + "\n" + Files.readString(metrics)).isZero();
        assertThat(output).as("promtool lint problems").isBlank();
    }

    /** The value of one sample line, e.g. {@code synapse_backup_last_exit_code{command="create"}}. */
    private static String value(Path metrics, String series) throws IOException {
        for (String line : Files.readAllLines(metrics)) {
            if (line.startsWith(series + " ")) {
                return line.substring(series.length() + 1);
            }
        }
        return null;
    }

    @Test
    void metricsOfEveryCommandPersistAndParse() throws Exception {
        Path metrics = dir.resolve("textfile/synapse_backup.prom");
        Files.createDirectories(metrics.getParent());
        Path cfg = config("metrics-file: " + metrics + "\n");

        Cli.Result create = cli().run("create", "--config", cfg.toString(), "--quiet");
        assertThat(create.exitCode()).as(create.toString()).isZero();
        String id = create.lastLine();
        promtool(metrics);
        assertThat(value(metrics, "synapse_backup_last_exit_code{command=\"create\"}")).isEqualTo("0");
        assertThat(Long.parseLong(value(metrics, "synapse_backup_last_bytes{command=\"create\"}")))
                .isEqualTo(Files.size(repo.resolve(id)));
        assertThat(Long.parseLong(value(metrics, "synapse_backup_last_files{command=\"create\"}"))).isPositive();
        assertThat(value(metrics, "synapse_backup_backups")).isEqualTo("1");
        String newest = value(metrics, "synapse_backup_newest_backup_timestamp_seconds");
        assertThat(newest).isEqualTo(value(metrics, "synapse_backup_oldest_backup_timestamp_seconds"));
        String createSuccess = value(metrics, "synapse_backup_last_success_timestamp_seconds{command=\"create\"}");
        assertThat(createSuccess).isNotNull();
        assertThat(Files.getPosixFilePermissions(metrics)).isEqualTo(PosixFilePermissions.fromString("rw-r--r--"));

        // A failed verify (no such backup): its series join create's, which stay as they were.
        Cli.Result verify = cli().run("verify", "backup-20200101000000000000", "--config", cfg.toString());
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(4);
        promtool(metrics);
        assertThat(value(metrics, "synapse_backup_last_exit_code{command=\"verify\"}")).isEqualTo("4");
        assertThat(value(metrics, "synapse_backup_last_success_timestamp_seconds{command=\"verify\"}")).isNull();
        assertThat(value(metrics, "synapse_backup_last_success_timestamp_seconds{command=\"create\"}")).isEqualTo(createSuccess);
        assertThat(value(metrics, "synapse_backup_last_exit_code{command=\"create\"}")).isEqualTo("0");

        // A second backup: the count and the newest time move, the oldest stays.
        Cli.Result second = cli().run("create", "--config", cfg.toString(), "--quiet", "--full");
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(value(metrics, "synapse_backup_backups")).isEqualTo("2");
        assertThat(Double.parseDouble(value(metrics, "synapse_backup_newest_backup_timestamp_seconds")))
                .isGreaterThan(Double.parseDouble(value(metrics, "synapse_backup_oldest_backup_timestamp_seconds")));
        Cli.Result verifyOk = cli().run("verify", second.lastLine(), "--config", cfg.toString());
        assertThat(verifyOk.exitCode()).as(verifyOk.toString()).isZero();
        assertThat(value(metrics, "synapse_backup_last_exit_code{command=\"verify\"}")).isEqualTo("0");
        assertThat(value(metrics, "synapse_backup_last_bytes{command=\"verify\"}"))
                .isEqualTo(String.valueOf(Files.size(repo.resolve(second.lastLine()))));
        promtool(metrics);
        // Nothing but the file (and its lock) in the textfile directory: no temporary file left.
        try (var s = Files.list(metrics.getParent())) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("synapse_backup.prom",
                    ".synapse_backup.prom.lock");
        }
    }

    @Test
    void metricsFileFlagRecordsAConfigurationError() throws Exception {
        Path metrics = dir.resolve("m.prom");
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "s3: {bucket: b}\n");
        Cli.Result r = cli().run("create", "--config", bad.toString(), "--metrics-file", metrics.toString());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        promtool(metrics);
        assertThat(value(metrics, "synapse_backup_last_exit_code{command=\"create\"}")).isEqualTo("2");
        assertThat(value(metrics, "synapse_backup_backups")).isNull();
    }

    @Test
    void inaccessibleRepositoryKeepsTheLastBackupCount() throws Exception {
        Path metrics = dir.resolve("m.prom");
        Path cfg = config("metrics-file: " + metrics + "\n");
        assertThat(cli().run("create", "--config", cfg.toString(), "--quiet").exitCode()).isZero();
        Files.move(repo, dir.resolve("repo-gone"));
        Files.writeString(repo, "a file where the repository directory was\n");
        Cli.Result r = cli().run("create", "--config", cfg.toString(), "--quiet");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(3);
        assertThat(value(metrics, "synapse_backup_last_exit_code{command=\"create\"}")).isEqualTo("3");
        assertThat(value(metrics, "synapse_backup_last_bytes{command=\"create\"}")).isEqualTo("0");
        assertThat(value(metrics, "synapse_backup_backups")).isEqualTo("1");
        promtool(metrics);
    }

    @Test
    void hooksAndPingsAroundASuccessfulBackup() throws Exception {
        Path cfg = config("hooks:\n  before: [" + hook("before", 0) + "]\n  after:\n    - [" + hook("after", 0) + "]\n"
                + "    - [" + hook("after-failing", 7) + "]\n  on-error: [" + hook("on-error", 0) + "]\n"
                + "ping-url: " + pingBase() + "\n");
        Cli.Result r = cli().run("create", "--config", cfg.toString(), "--json");
        // A failing after-hook is reported, and the backup that worked still exits 0.
        assertThat(r.exitCode()).as(r.toString()).isZero();
        String id = new ObjectMapper().readTree(r.stdout()).get("backup-id").asText();
        assertThat(r.stderr()).contains("hook output on stdout").contains("warning: hook after " + dir.resolve("after-failing.sh")
                + " failed with exit code 7");
        assertThat(pings).containsExactly("GET /ping/abc-123/start", "GET /ping/abc-123");

        Map<String, String> before = env("before");
        assertThat(before).containsEntry("SYNAPSE_BACKUP_COMMAND", "create").containsEntry("SYNAPSE_BACKUP_ID", "")
                .containsEntry("SYNAPSE_BACKUP_EXIT_CODE", "").containsEntry("HOOK_MARK", "visible");
        Map<String, String> after = env("after");
        assertThat(after).containsEntry("SYNAPSE_BACKUP_COMMAND", "create").containsEntry("SYNAPSE_BACKUP_ID", id)
                .containsEntry("SYNAPSE_BACKUP_EXIT_CODE", "0");
        for (Map<String, String> e : List.of(before, after)) {
            assertThat(e).doesNotContainKeys("SYNAPSE_BACKUP_PASSPHRASE_FILE", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                    "PGPASSWORD");
            assertThat(e.values()).noneMatch(v -> v.contains("secret") || v.contains("correct horse"));
        }
        assertThat(dir.resolve("on-error.env")).doesNotExist();
    }

    @Test
    void hooksAndPingsAroundAFailure() throws Exception {
        Path cfg = config("hooks:\n  before: [" + hook("before", 0) + "]\n  after: [" + hook("after", 0) + "]\n"
                + "  on-error: [" + hook("on-error", 0) + "]\nping-url: " + pingBase() + "/\n");
        Cli.Result r = cli().env("SYNAPSE_BACKUP_PASSPHRASE", "correct horse")
                .run("verify", "backup-20200101000000000000", "--config", cfg.toString());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(4);
        assertThat(pings).containsExactly("GET /ping/abc-123/start", "GET /ping/abc-123/fail");
        Map<String, String> onError = env("on-error");
        assertThat(onError).containsEntry("SYNAPSE_BACKUP_COMMAND", "verify")
                .containsEntry("SYNAPSE_BACKUP_ID", "backup-20200101000000000000")
                .containsEntry("SYNAPSE_BACKUP_EXIT_CODE", "4").doesNotContainKey("SYNAPSE_BACKUP_PASSPHRASE");
        assertThat(dir.resolve("after.env")).doesNotExist();
    }

    @Test
    void aFailingPingOrMissingHookDoesNotFailTheBackup() throws Exception {
        failing.add("/ping/abc-123");
        Path cfg = config("hooks:\n  before: [" + dir.resolve("no-such-hook") + ", --flag]\n"
                + "ping-url: " + pingBase() + "?status=up\n");
        Cli.Result r = cli().run("create", "--config", cfg.toString(), "--quiet");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stderr()).contains("warning: hook before " + dir.resolve("no-such-hook") + " cannot be run")
                .contains("warning: ping to 127.0.0.1 failed: HTTP 500").doesNotContain("abc-123");
        // The query of an Uptime Kuma push URL stays after the suffix.
        assertThat(pings).containsExactly("GET /ping/abc-123/start?status=up", "GET /ping/abc-123?status=up");
    }

    /** A hook that leaves a background process holding its stdout open does not hold up the tool. */
    @Test
    void aHookThatLeavesABackgroundProcessDoesNotHang() throws Exception {
        Path pid = dir.resolve("background.pid");
        Path cfg = config("hooks:\n  after: [/bin/sh, -c, 'sleep 120 & echo $! > " + pid + "; echo after hook']\n");
        try {
            Cli.Result r = cli().run("create", "--config", cfg.toString(), "--quiet");
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stderr()).contains("after hook");
        } finally {
            if (Files.exists(pid)) {
                ProcessHandle.of(Long.parseLong(Files.readString(pid).strip())).ifPresent(ProcessHandle::destroy);
            }
        }
    }

    @Test
    void readOnlyCommandsDoNotPing() throws Exception {
        Path cfg = config("ping-url: " + pingBase() + "\nhooks: {before: [" + hook("before", 0) + "]}\n");
        assertThat(cli().run("list", "--config", cfg.toString()).exitCode()).isZero();
        assertThat(cli().run("check", "--config", cfg.toString()).exitCode()).isZero();
        assertThat(pings).isEmpty();
        assertThat(dir.resolve("before.env")).doesNotExist();
        Cli.Result create = cli().run("create", "--config", cfg.toString(), "--quiet");
        assertThat(create.exitCode()).as(create.toString()).isZero();
        pings.clear();
        Files.deleteIfExists(dir.resolve("before.env"));
        Cli.Result print = cli().run("restore", create.lastLine(), "--print-command", "--config", cfg.toString());
        assertThat(print.exitCode()).as(print.toString()).isZero();
        assertThat(pings).isEmpty();
        assertThat(dir.resolve("before.env")).doesNotExist();
    }

    @Test
    void badHookAndPingConfigurationNameTheKey() throws Exception {
        Cli.Result r = cli().run("check", "--config", config("hooks: {after: notify}\n").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).contains("\"hooks.after\"");
        r = cli().run("check", "--config", config("hooks: {afterwards: [x]}\n").toString());
        assertThat(r.stderr()).contains("unknown key \"hooks.afterwards\"");
        r = cli().run("check", "--config", config("ping-url: ftp://example.org/x\n").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).contains("\"ping-url\"");
    }
}
