package dev.synapsebackup.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs the real launcher {@code bin/synapse-backup} as a child process (its own JVM), for tests
 * that signal it or bound its heap. The jar is built once, offline, if missing or older than the
 * sources.
 */
public final class Launcher {
    /** The project directory (the working directory of Maven's test run). */
    public static final Path PROJECT = Path.of("").toAbsolutePath();
    private static boolean built;

    private Launcher() {
    }

    /** Builds target/synapse-backup.jar if it is missing or stale. */
    public static synchronized void ensureBuilt() throws IOException, InterruptedException {
        if (built) {
            return;
        }
        Path jar = PROJECT.resolve("target/synapse-backup.jar");
        boolean stale = !Files.exists(jar);
        if (!stale) {
            long jarTime = Files.getLastModifiedTime(jar).toMillis();
            try (Stream<Path> s = Stream.concat(Files.walk(PROJECT.resolve("src/main")), Stream.of(PROJECT.resolve("pom.xml")))) {
                stale = s.anyMatch(p -> {
                    try {
                        return Files.getLastModifiedTime(p).toMillis() > jarTime;
                    } catch (IOException e) {
                        return true;
                    }
                });
            }
        }
        if (stale) {
            Process p = new ProcessBuilder("mvn", "-q", "-B", "-DskipTests", "package")
                    .directory(PROJECT.toFile()).inheritIO().start();
            if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IOException("cannot build " + jar);
            }
        }
        built = true;
    }

    /**
     * Starts {@code bin/synapse-backup args} with extra environment, stdout and stderr going to
     * files in {@code logDir} ({@code stdout}, {@code stderr}), and JVM options
     * {@code -Xmx<heap> -Djava.io.tmpdir=<tmpDir>} plus {@code jvmOptions}.
     */
    public static Process start(List<String> args, Map<String, String> env, Path logDir, String heap, Path tmpDir,
            String... jvmOptions) throws IOException, InterruptedException {
        ensureBuilt();
        List<String> cmd = new ArrayList<>(List.of(PROJECT.resolve("bin/synapse-backup").toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        pb.environment().put("SYNAPSE_BACKUP_JAVA_OPTS", "-Xmx" + heap + " -XX:+UseSerialGC -Djava.io.tmpdir=" + tmpDir
                + (jvmOptions.length == 0 ? "" : " " + String.join(" ", jvmOptions)));
        Files.createDirectories(logDir);
        pb.redirectOutput(logDir.resolve("stdout").toFile());
        pb.redirectError(logDir.resolve("stderr").toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        return pb.start();
    }

    /** Sends a signal ("INT", "TERM") to a process. */
    public static void signal(Process p, String signal) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-s", signal, String.valueOf(p.pid())).inheritIO().start();
        if (k.waitFor() != 0) {
            throw new IOException("kill -s " + signal + " " + p.pid() + " failed");
        }
    }

    /** Waits for the process to end (at most {@code seconds}) and returns its exit code. */
    public static int await(Process p, int seconds) throws InterruptedException {
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child process did not end within " + seconds + " s");
        }
        return p.exitValue();
    }
}
