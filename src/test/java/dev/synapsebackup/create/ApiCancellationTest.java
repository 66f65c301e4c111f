package dev.synapsebackup.create;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.Progress;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.Launcher;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to a program that makes a backup through the Java API (no launcher, so no
 * {@code Shutdown.install}): the create's thread is interrupted mid-upload and cleans up before
 * the JVM exits, as under the launcher (SignalTest): nothing in the repository, no work files.
 */
@Tag("slow")
class ApiCancellationTest {
    @TempDir
    Path tmp;

    /** The program: one create through {@link SynapseBackup}, held at its first progress until interrupted. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            ToolConfig cfg = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(null, List.of(Path.of(args[0])),
                    Path.of(args[1]), null, null, null, null, null, null));
            CountDownLatch never = new CountDownLatch(1);
            Progress holdMidUpload = new Progress() {
                private boolean held;

                @Override
                public void advance(long bytes) {
                    if (held) {
                        return;
                    }
                    held = true;
                    System.out.println("mid-upload");
                    System.out.flush();
                    try {
                        never.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt(); // the create's next blocking step notices it
                    }
                }
            };
            try (SynapseBackup sb = SynapseBackup.open(cfg)) {
                sb.create(new CreateOptions(Secret.of("api"), false, null, holdMidUpload));
            }
            System.out.println("completed");
        }
    }

    @Test
    void sigtermDuringAnApiCreateAbortsTheUploadAndRemovesWorkFiles() throws Exception {
        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults());
        Path repo = tmp.resolve("repo");
        Path childTmp = Files.createDirectories(tmp.resolve("child-tmp"));
        Path out = tmp.resolve("stdout");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xmx200m", "-Djava.io.tmpdir=" + childTmp,
                "-cp", System.getProperty("java.class.path"), Child.class.getName(), yaml.toString(), repo.toString())
                .redirectOutput(out.toFile()).redirectError(tmp.resolve("stderr").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Await.until("the child mid-upload", Duration.ofSeconds(60),
                    () -> !p.isAlive() || Files.readString(out).contains("mid-upload"));
            assertThat(Files.readString(out)).as(Files.readString(tmp.resolve("stderr"))).contains("mid-upload");
            Launcher.signal(p, "TERM");
            Launcher.await(p, 90);
        } finally {
            p.destroyForcibly();
        }
        assertThat(Files.readString(out)).doesNotContain("completed");
        assertThat(regularFiles(repo)).as("the repository").isEmpty();
        assertThat(regularFiles(childTmp)).as("work files").allMatch(f -> f.getFileName().toString().startsWith("sqlite-"));
    }

    private static List<Path> regularFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }
}
