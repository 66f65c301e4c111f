package dev.synapsebackup.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.Progress;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.create.CreateOptions;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.Trees;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The real command line and API against a real S3 server (S3Proxy on loopback, filesystem store). */
class S3RoundTripTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.onFilesystem();

    @TempDir
    static Path tmp;

    static Path yaml;
    static Path pass;

    @BeforeAll
    static void homeserver() throws Exception {
        yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(30, 24_000_000));
        pass = tmp.resolve("passphrase");
        Files.writeString(pass, "s3 passphrase\n");
        // Readable by its owner only, as a passphrase file should be (else every run warns).
        java.nio.file.Files.setPosixFilePermissions(pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    private static Cli cli() {
        return new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
    }

    private static String[] s3args(String bucket, String path, String... cmd) {
        List<String> a = new java.util.ArrayList<>(List.of(cmd));
        a.addAll(List.of("--bucket", bucket, "--path", path, "--endpoint", S3.endpoint().toString(),
                "--s3-uri-style", "path", "--synapse-config", yaml.toString(), "--passphrase-file", pass.toString()));
        return a.toArray(String[]::new);
    }

    @Test
    void checkActive() {
        S3.createBucket("check-ok");
        Cli.Result r = cli().run(s3args("check-ok", "", "check"));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEqualTo("active\n");
    }

    @Test
    void checkWrongCredentials() {
        S3.createBucket("check-creds");
        Cli.Result r = new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", "wrong-secret-value").run(s3args("check-creds", "", "check"));
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(3);
        assertThat(r.stderr()).startsWith("Backup: S3 bucket does not exist or cannot be accessed (").contains("check-creds");
        assertThat(r.stderr()).doesNotContain("wrong-secret-value");
        assertThat(r.stderr().strip().lines()).hasSize(1);
    }

    @Test
    void checkMissingBucket() {
        Cli.Result r = cli().run(s3args("no-such-bucket", "", "check"));
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stderr()).startsWith("Backup: S3 bucket does not exist or cannot be accessed (")
                .contains("no-such-bucket").endsWith(")\n");
    }

    @Test
    void checkConnectionRefused() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Cli.Result r = cli().run("check", "--bucket", "b", "--endpoint", "http://127.0.0.1:" + port, "--s3-uri-style", "path");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(3);
        assertThat(r.stderr()).startsWith("Backup: S3 bucket does not exist or cannot be accessed (");
    }

    @Test
    void checkInvalidConfiguration() {
        Cli.Result r = cli().run("check", "--bucket", "b");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).isEqualTo("Backup: S3 configuration is invalid (one of \"region\" or \"endpoint\" needs to be set)\n");
        Cli.Result s = cli().run("check", "--bucket", "b", "--region", "r", "--s3-uri-style", "virtual");
        assertThat(s.exitCode()).isEqualTo(2);
        assertThat(s.stderr()).startsWith("Backup: S3 configuration is invalid (\"s3-uri-style\"");
    }

    @Test
    void createListVerifyDeleteUnderANormalisedPrefix() throws Exception {
        S3.createBucket("roundtrip");
        Cli.Result c = cli().run(s3args("roundtrip", "/a//b/", "create"));
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();
        assertThat(S3.keys("roundtrip")).containsExactly("a/b/" + id, "a/b/" + id + ".manifest");
        assertThat(S3.incompleteUploads("roundtrip")).isEmpty();

        Cli.Result l = cli().run(s3args("roundtrip", "a/b", "list", "--json"));
        JsonNode b = new ObjectMapper().readTree(l.stdout()).get("backups").get(id);
        assertThat(b.get("size").asLong()).isGreaterThan(24_000_000);

        Cli.Result v = cli().run(s3args("roundtrip", "/a/b", "verify", id));
        assertThat(v.exitCode()).as(v.toString()).isZero();
        assertThat(v.stdout()).startsWith("ok: " + id);

        Cli.Result d = cli().run(s3args("roundtrip", "a/b/", "delete", id));
        assertThat(d.exitCode()).as(d.toString()).isZero();
        assertThat(S3.keys("roundtrip")).isEmpty();
        Cli.Result again = cli().run(s3args("roundtrip", "a/b/", "delete", id));
        assertThat(again.exitCode()).isEqualTo(4);
        assertThat(again.stderr()).isEqualTo("backup-id " + id + " does not exist\n");
    }

    @Test
    void printedStockPipelineWorksWithTheAwsCli() throws Exception {
        S3.createBucket("stock");
        String id = cli().run(s3args("stock", "prod", "create", "--quiet")).lastLine();
        Path target = tmp.resolve("stock-restore");
        Cli.Result p = cli().run(s3args("stock", "prod", "restore", id, "--print-command", "--target", target.toString()));
        assertThat(p.exitCode()).as(p.toString()).isZero();
        assertThat(p.stdout()).contains("export AWS_ACCESS_KEY_ID=" + S3ProxyServer.ACCESS_KEY)
                .contains("export AWS_SECRET_ACCESS_KEY='<secret-key>'")
                .contains("export AWS_ENDPOINT_URL=" + S3.endpoint())
                .contains("aws s3 cp s3://stock/prod/" + id + " - --endpoint-url " + S3.endpoint())
                .contains("| gpg --batch --decrypt --passphrase-file " + pass + " | tar -x -C \"$partial\"")
                .contains("target=" + target)
                .doesNotContain(S3ProxyServer.SECRET_KEY);

        Assumptions.assumeTrue(Procs.bash("command -v aws", Map.of(), null).exitCode() == 0, "aws CLI not installed");
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Path awsHome = Files.createDirectories(tmp.resolve("awshome"));
        String script = p.stdout().replace("'<secret-key>'", q(S3ProxyServer.SECRET_KEY));
        Procs.Result r = Procs.bash(script, Map.of("GNUPGHOME", gnupg.toString(), "HOME", awsHome.toString(),
                "AWS_CONFIG_FILE", awsHome.resolve("config").toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(Trees.sha256(target.resolve(yaml.toString().substring(1)))).isEqualTo(Trees.sha256(yaml));
    }

    @Test
    void liveRestoreFromS3WithOneCommand() throws Exception {
        S3.createBucket("live");
        Path hs = tmp.resolve("live-hs");
        Path liveYaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(12, 1_000_000));
        Path log = tmp.resolve("live-service.log");
        Path script = tmp.resolve("live-svc.sh");
        Files.writeString(script, "#!/bin/bash\necho \"$1\" >> " + q(log) + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        Path config = tmp.resolve("live-config.yaml");
        Files.writeString(config, """
                synapse-config: %s
                passphrase-file: %s
                s3:
                  endpoint: %s
                  bucket: live
                  path: synapse
                  s3-uri-style: path
                service:
                  stop-command: [%s, stop]
                  start-command: [%s, start]
                """.formatted(liveYaml, pass, S3.endpoint(), script, script));
        Cli.Result c = cli().run("create", "--quiet", "--config", config.toString());
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();
        Map<String, String> atBackup = Trees.fingerprint(hs.resolve("etc"));
        String media = Trees.fingerprint(hs.resolve("data/media_store/local_content")).toString();
        Files.writeString(liveYaml, "# damaged\n");
        try (java.util.stream.Stream<Path> files = Files.walk(hs.resolve("data/media_store/local_content"))) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                Files.delete(p);
            }
        }
        Cli.Result r = cli().run("restore", id, "--config", config.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(Trees.fingerprint(hs.resolve("etc"))).isEqualTo(atBackup);
        assertThat(Trees.fingerprint(hs.resolve("data/media_store/local_content")).toString()).isEqualTo(media);
        assertThat(Files.readAllLines(log)).containsExactly("stop", "start");
    }

    @Test
    void serverStoppedMidUploadLeavesNoObjectAndNoMultipartUpload() throws Exception {
        S3.createBucket("cut");
        // A pass-through proxy, only to see when the abort has been tried against the stopped server.
        try (FaultProxy proxy = new FaultProxy(S3.port())) {
            ToolConfig config = new ConfigLoader(Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY), null)
                    .load(new ConfigOverrides(null, List.of(yaml), null, "cut", null, null, proxy.endpoint().toString(),
                            "path", null));
            AtomicLong done = new AtomicLong();
            AtomicBoolean abortTriedWhileStopped = new AtomicBoolean();
            Progress cutAt12MB = new Progress() {
                @Override
                public void advance(long bytes) {
                    if (done.addAndGet(bytes) > 12_000_000 && S3.isRunning()) {
                        // A short outage: the upload fails, and the abort's retries reach the server
                        // once it is back, so no parts are left behind.
                        S3.stop();
                        Thread t = new Thread(() -> {
                            try {
                                Await.until("an abort while the server is stopped", Duration.ofSeconds(120),
                                        () -> proxy.requests().stream().anyMatch(
                                                r -> r.method().equals("DELETE") && r.target().contains("uploadId=")));
                                abortTriedWhileStopped.set(true);
                            } catch (Exception | AssertionError e) {
                                // asserted below
                            } finally {
                                S3.start();
                            }
                        });
                        t.setDaemon(true);
                        t.start();
                    }
                }
            };
            try (SynapseBackup sb = SynapseBackup.open(config)) {
                assertThatThrownBy(() -> sb.create(new CreateOptions(Secret.of("pw"), false, null, cutAt12MB)))
                        .isInstanceOf(RuntimeException.class);
            }
            assertThat(abortTriedWhileStopped).isTrue();
        }
        S3.start();
        assertThat(S3.keys("cut")).isEmpty();
        assertThat(S3.incompleteUploads("cut")).isEmpty();
    }
}
