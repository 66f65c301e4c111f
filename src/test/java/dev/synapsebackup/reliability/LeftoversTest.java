package dev.synapsebackup.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.S3ProxyServer;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plaintext left behind by runs that were killed: the next run removes the work directories whose
 * owner is gone and keeps a live run's; sqlite-jdbc's native library goes into the run's own work
 * directory, not the temp directory.
 */
class LeftoversTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    @TempDir
    Path tmp;

    private static Path runDir(Path base, long pid, long startTicks) throws Exception {
        Path d = Files.createDirectories(base.resolve(WorkDir.PREFIX + pid + "-" + startTicks + "-123"));
        Files.writeString(d.resolve("homeserver.db"), "plaintext snapshot");
        Files.createDirectories(d.resolve("read-1"));
        Files.writeString(d.resolve("read-1/manifest.json"), "{\"plaintext\": true}");
        return d;
    }

    @Test
    void nextRunRemovesDeadRunsDirectoriesAndLeavesNoNativeLibrary() throws Exception {
        Path childTmp = Files.createDirectories(tmp.resolve("java-tmp"));
        // A run that is gone: a process that has ended.
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        Path dead = runDir(childTmp, ended.pid(), WorkDir.startTicks(ended.pid()) == 0 ? 1 : WorkDir.startTicks(ended.pid()));
        // A live run: this JVM, with its real start time.
        ProcessHandle self = ProcessHandle.current();
        Path live = runDir(childTmp, self.pid(), WorkDir.startTicks(self.pid()));
        // The pid of a live process that started at another time: the pid was reused, the owner is gone.
        Path reused = runDir(childTmp, self.pid(), WorkDir.startTicks(self.pid()) + 360_000);
        // Not ours: other names are never touched.
        Path other = Files.createDirectories(childTmp.resolve("synapse-backup-12345"));

        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(2, 10_000));
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, "leftovers\n");
        Path logs = tmp.resolve("logs");
        Process p = Launcher.start(List.of("create", "--repo", tmp.resolve("repo").toString(), "--synapse-config",
                yaml.toString(), "--passphrase-file", pass.toString()), Map.of(), logs, "200m", childTmp);
        int exit = Launcher.await(p, 120);
        assertThat(exit).as(Files.readString(logs.resolve("stderr"))).isZero();

        assertThat(dead).doesNotExist();
        assertThat(reused).doesNotExist();
        assertThat(live).isDirectory();
        assertThat(live.resolve("homeserver.db")).exists();
        assertThat(other).isDirectory();
        try (Stream<Path> s = Files.list(childTmp)) {
            // The create snapshotted an SQLite database, so sqlite-jdbc was loaded: its library went
            // into the run's work directory, which the run removed at its end.
            List<String> names = s.map(x -> x.getFileName().toString()).toList();
            assertThat(names).noneMatch(n -> n.contains("sqlite"));
            assertThat(names).filteredOn(n -> n.startsWith(WorkDir.PREFIX)).containsExactly(live.getFileName().toString());
            assertThat(names).contains(other.getFileName().toString());
        }
    }

    /**
     * kill -9 in the middle of an upload: the snapshot and sqlite-jdbc's library are in the dead
     * run's work directory (nothing of it directly in the temp directory), and the next run removes it.
     */
    @Test
    void killedRunsPlaintextIsRemovedByTheNextRun() throws Exception {
        try (FaultProxy proxy = new FaultProxy(S3.port())) {
            Path childTmp = Files.createDirectories(tmp.resolve("java-tmp"));
            Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(20, 20_000_000));
            Path pass = tmp.resolve("passphrase");
            Files.writeString(pass, "leftovers\n");
            Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-------"));
            S3.createBucket("leftovers");
            Path config = tmp.resolve("config.yaml");
            Files.writeString(config, """
                    synapse-config: %s
                    passphrase-file: %s
                    s3:
                      endpoint: %s
                      bucket: leftovers
                      s3-uri-style: path
                    """.formatted(yaml, pass, proxy.endpoint()));
            Map<String, String> env = Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
            // Part uploads are held, so that the run is surely mid-upload when killed.
            proxy.inject(FaultProxy.Request::isUploadPart, Integer.MAX_VALUE, new FaultProxy.Stall(Duration.ofSeconds(30)));
            Process p = Launcher.start(List.of("create", "--config", config.toString()), env, tmp.resolve("logs-create"),
                    "200m", childTmp);
            Await.until("a part upload", Duration.ofSeconds(60),
                    () -> proxy.requests().stream().anyMatch(FaultProxy.Request::isUploadPart) || !p.isAlive());
            assertThat(p.isAlive()).as("create still running").isTrue();
            p.destroyForcibly(); // SIGKILL: no clean-up can run
            p.waitFor();

            List<Path> top;
            try (Stream<Path> s = Files.list(childTmp)) {
                top = s.toList();
            }
            assertThat(top).extracting(x -> x.getFileName().toString()).noneMatch(n -> n.startsWith("sqlite-"))
                    .singleElement().asString().startsWith(WorkDir.PREFIX + p.pid() + "-");
            List<String> inside;
            try (Stream<Path> s = Files.walk(top.get(0))) {
                inside = s.map(x -> x.getFileName().toString()).toList();
            }
            assertThat(inside).anyMatch(n -> n.startsWith("sqlite-") && n.endsWith(".so")).contains("homeserver.db");

            proxy.reset();
            Path logs = tmp.resolve("logs-list");
            int exit = Launcher.await(Launcher.start(List.of("list", "--config", config.toString()), env, logs, "200m",
                    childTmp), 120);
            assertThat(exit).as(Files.readString(logs.resolve("stderr"))).isZero();
            assertThat(top.get(0)).doesNotExist();
            try (Stream<Path> s = Files.list(childTmp)) {
                assertThat(s.toList()).isEmpty();
            }
        }
    }
}
