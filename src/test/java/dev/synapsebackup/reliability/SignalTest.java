package dev.synapsebackup.reliability;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.FaultProxy.SlowAfter;
import dev.synapsebackup.testing.FaultProxy.Stall;
import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGINT and SIGTERM sent to the real launcher (its own JVM) during create, during the staging
 * of a restore, and during the live swap: the upload is aborted, temporary files and staging are
 * removed, the live data is untouched or completely restored, never half.
 */
@Tag("slow")
class SignalTest {
    /** The name of Shutdown's hook thread as Linux keeps it (15 characters: not only that thread's). */
    private static final String HOOK_THREAD = "synapse-backup-";

    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.onFilesystem();

    @TempDir
    static Path tmp;

    static FaultProxy proxy;
    static int run;

    Path hs;
    Path yaml;
    Path config;
    Path childTmp;
    Path serviceLog;
    Path marker;
    Path release;
    String bucket;

    @BeforeAll
    static void setUpAll() throws Exception {
        proxy = new FaultProxy(S3.port());
        Launcher.ensureBuilt();
    }

    @AfterAll
    static void tearDownAll() throws IOException {
        proxy.close();
    }

    @BeforeEach
    void setUp() throws Exception {
        run++;
        Path dir = Files.createDirectories(tmp.resolve("run" + run));
        hs = dir.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(20, 20_000_000));
        bucket = "signals-" + run;
        S3.createBucket(bucket);
        childTmp = Files.createDirectories(dir.resolve("child-tmp"));
        serviceLog = dir.resolve("service.log");
        marker = dir.resolve("stopping");
        release = dir.resolve("release-stop");
        Path svc = dir.resolve("svc.sh");
        // "stop" lasts until the test releases it (at most 2 minutes), so that a signal can
        // arrive in the middle of the swap.
        Files.writeString(svc, """
                #!/bin/bash
                echo "$1" >> %s
                if [ "$1" = stop ]; then
                  touch %s
                  for _ in $(seq 1200); do [ -e %s ] && break; sleep 0.1; done
                fi
                """.formatted(q(serviceLog), q(marker), q(release)));
        Files.setPosixFilePermissions(svc, PosixFilePermissions.fromString("rwx------"));
        Path pass = dir.resolve("passphrase");
        Files.writeString(pass, "signal passphrase\n");
        config = dir.resolve("config.yaml");
        Files.writeString(config, """
                synapse-config: %s
                passphrase-file: %s
                s3:
                  access-key: %s
                  secret-key: %s
                  endpoint: %s
                  bucket: %s
                  s3-uri-style: path
                service:
                  stop-command: [%s, stop]
                  start-command: [%s, start]
                """.formatted(yaml, pass, S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY, proxy.endpoint(), bucket,
                svc, svc));
        proxy.reset();
    }

    private Process launch(String... args) throws Exception {
        List<String> a = new java.util.ArrayList<>(List.of(args));
        a.addAll(List.of("--config", config.toString()));
        return Launcher.start(a, Map.of(), childTmp.resolveSibling("logs-" + args[0]), "200m", childTmp);
    }

    private String stderr(String command) throws IOException {
        return Files.readString(childTmp.resolveSibling("logs-" + command).resolve("stderr"));
    }

    private static void waitFor(BooleanSupplier condition, Process p, String what) throws Exception {
        boolean[] seen = new boolean[1];
        // A child that ended never gets there: stop waiting at once.
        Await.until(what, Duration.ofSeconds(60), () -> (seen[0] = condition.getAsBoolean()) || !p.isAlive());
        if (!seen[0]) {
            throw new AssertionError("never saw " + what + " (the process ended)");
        }
    }

    /** The backup a restore case starts from: a fixture, made in-process (no JVM of its own to start). */
    private String createBackup() {
        Cli.Result c = new Cli().run("create", "--quiet", "--config", config.toString());
        assertThat(c.exitCode()).as(c.toString()).isZero();
        return c.lastLine();
    }

    /** What the child left in its java.io.tmpdir, apart from sqlite-jdbc's native library. */
    private List<String> childTempLeftovers() throws IOException {
        try (Stream<Path> s = Files.list(childTmp)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("sqlite-")).toList();
        }
    }

    private List<Path> stagingLeftovers() throws IOException {
        try (Stream<Path> s = Files.walk(hs)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(".synapse-restore-") || n.contains(".pre-restore-");
            }).toList();
        }
    }

    /** How many threads of {@code p} have a name starting with {@code prefix}. */
    private static long threadsNamed(Process p, String prefix) {
        try (Stream<Path> s = Files.list(Path.of("/proc", String.valueOf(p.pid()), "task"))) {
            return s.filter(t -> {
                try {
                    return Files.readString(t.resolve("comm")).startsWith(prefix);
                } catch (IOException e) {
                    return false; // the thread ended
                }
            }).count();
        } catch (IOException e) {
            return 0; // the process ended
        }
    }

    private boolean stagingExists() {
        try {
            return !stagingLeftovers().isEmpty();
        } catch (IOException | java.io.UncheckedIOException e) {
            return false; // the tree changed under the walk
        }
    }

    private void interruptCreate(String signal, int expectedExit) throws Exception {
        // Each part upload is held for 4 s: the create is surely mid-upload when signalled.
        proxy.inject(FaultProxy.Request::isUploadPart, Integer.MAX_VALUE, new Stall(Duration.ofSeconds(4)));
        Process p = launch("create");
        waitFor(() -> proxy.requests().stream().anyMatch(FaultProxy.Request::isUploadPart), p, "a part upload");
        Launcher.signal(p, signal);
        assertThat(Launcher.await(p, 90)).as(stderr("create")).isEqualTo(expectedExit);
        assertThat(stderr("create")).contains("interrupted").doesNotContain("\tat ");
        assertThat(S3.keys(bucket)).isEmpty();
        assertThat(S3.incompleteUploads(bucket)).isEmpty();
        assertThat(childTempLeftovers()).isEmpty();
    }

    /**
     * Whether this JVM was started with SIGINT ignored, as a shell without job control starts a
     * background command ({@code cmd &}): the child inherits that, and a JVM never handles a
     * signal it finds ignored, exactly as the tool run that way would not.
     */
    private static boolean sigintIgnored() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << 1)) != 0; // bit 1: signal 2
            }
        }
        return false;
    }

    @Test
    void sigintDuringCreateAbortsTheUploadRemovesTempFilesAndExits130() throws Exception {
        Assumptions.assumeFalse(sigintIgnored(), "SIGINT is ignored in this process tree (started in the background)");
        interruptCreate("INT", 130);
    }

    @Test
    void sigtermDuringCreateAbortsTheUploadAndRemovesTempFiles() throws Exception {
        interruptCreate("TERM", 130);
    }

    private void interruptStaging(String signal, int expectedExit) throws Exception {
        String id = createBackup();
        Map<String, String> before = Trees.fingerprint(hs);
        // The data object trickles in after its first MB: staging is under way when signalled.
        proxy.inject(r -> r.isGet(id), Integer.MAX_VALUE, new SlowAfter(1_000_000, 2_000_000));
        Process p = launch("restore", id);
        waitFor(this::stagingExists, p, "a staging directory");
        Launcher.signal(p, signal);
        assertThat(Launcher.await(p, 90)).as(stderr("restore")).isEqualTo(expectedExit);
        assertThat(stderr("restore")).contains("interrupted").doesNotContain("\tat ");
        assertThat(stagingLeftovers()).isEmpty();
        assertThat(Trees.fingerprint(hs)).isEqualTo(before);
        assertThat(Files.exists(serviceLog)).as("Synapse was never stopped").isFalse();
        assertThat(childTempLeftovers()).isEmpty();
    }

    @Test
    void sigintDuringRestoreStagingRemovesStagingAndLeavesLiveUntouched() throws Exception {
        Assumptions.assumeFalse(sigintIgnored(), "SIGINT is ignored in this process tree (started in the background)");
        interruptStaging("INT", 130);
    }

    @Test
    void sigtermDuringRestoreStagingRemovesStagingAndLeavesLiveUntouched() throws Exception {
        interruptStaging("TERM", 130);
    }

    @Test
    void sigtermDuringTheSwapLetsTheSwapFinishAndStartsSynapse() throws Exception {
        String id = createBackup();
        Path media = hs.resolve("data/media_store");
        Map<String, String> backupState = Trees.fingerprint(media.resolve("local_content"));
        String yamlAtBackup = Files.readString(yaml);
        // Change the live server after the backup, so that a finished restore is visible.
        Files.writeString(media.resolve("local_content/added-after-backup"), "new");
        Files.writeString(yaml, yamlAtBackup + "\n# changed after the backup\n");
        Process p = launch("restore", id);
        waitFor(() -> Files.exists(marker), p, "the stop command");
        long hooks = threadsNamed(p, HOOK_THREAD);
        Launcher.signal(p, "TERM");
        // Stop ends only once the JVM runs its shutdown hook: the signal surely came mid-swap.
        waitFor(() -> threadsNamed(p, HOOK_THREAD) > hooks, p, "the shutdown hook");
        Files.createFile(release);
        // The swap finished, so the restore succeeded: its own exit code, not "interrupted".
        assertThat(Launcher.await(p, 90)).isZero();
        // Finished: exactly the backup's state, Synapse started again, nothing left beside it.
        assertThat(Trees.fingerprint(media.resolve("local_content"))).isEqualTo(backupState);
        assertThat(Files.readString(yaml)).isEqualTo(yamlAtBackup);
        assertThat(Files.readAllLines(serviceLog)).containsExactly("stop", "start");
        assertThat(stagingLeftovers()).isEmpty();
        assertThat(childTempLeftovers()).isEmpty();
    }
}
