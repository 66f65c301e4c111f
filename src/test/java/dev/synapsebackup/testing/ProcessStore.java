package dev.synapsebackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A store server run as a child process on loopback: started with its output in a log file,
 * ready once it answers HTTP (polled, no fixed wait), and killed on {@link #close()} or, should
 * the test JVM end first, by a shutdown hook.
 */
final class ProcessStore implements AutoCloseable {
    /** Where bin/install-test-stores puts the servers. */
    static final Path CACHE = Path.of(System.getenv().getOrDefault("SYNAPSE_BACKUP_TEST_CACHE",
            System.getProperty("user.home") + "/.cache/synapse-backup-test"));
    private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(120);

    private final String name;
    private final Process process;
    private final Path log;
    private final Thread hook;

    private ProcessStore(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.hook = new Thread(process::destroyForcibly, "kill-" + name);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Runs bin/install-test-stores if {@code installed} is missing from the cache. */
    static synchronized void ensureInstalled(Path installed) {
        if (Files.exists(installed)) {
            return;
        }
        Procs.Result r = Procs.run(List.of(Launcher.PROJECT.resolve("bin/install-test-stores").toString()),
                (byte[]) null, Map.of(), Launcher.PROJECT);
        if (r.exitCode() != 0 || !Files.exists(installed)) {
            throw new IllegalStateException("bin/install-test-stores failed (exit " + r.exitCode() + "): "
                    + r.stderr() + r.stdout());
        }
    }

    /**
     * Starts {@code cmd} and waits until {@code readyUrl} answers any HTTP status.
     *
     * @param dir a directory for the log file
     */
    static ProcessStore start(String name, List<String> cmd, Map<String, String> env, Path dir, URI readyUrl) {
        Path log = dir.resolve(name + ".log");
        Process p;
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(env);
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name + ": " + cmd, e);
        }
        ProcessStore store = new ProcessStore(name, p, log);
        long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
        try {
            while (!answers(readyUrl)) {
                if (!p.isAlive()) {
                    throw new IllegalStateException(name + " exited with " + p.exitValue() + " before it answered on "
                            + readyUrl + ":\n" + store.logTail());
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(name + " did not answer on " + readyUrl + " within 120 s:\n"
                            + store.logTail());
                }
                p.waitFor(100, TimeUnit.MILLISECONDS); // returns at once if it exits
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            store.close();
            throw new IllegalStateException("interrupted while starting " + name, e);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
        return store;
    }

    private static boolean answers(URI url) {
        try {
            HttpURLConnection c = (HttpURLConnection) url.toURL().openConnection();
            c.setConnectTimeout(1000);
            c.setReadTimeout(5000);
            try {
                return c.getResponseCode() > 0;
            } finally {
                c.disconnect();
            }
        } catch (IOException e) {
            return false;
        }
    }

    /** The last lines of the server's log, for failure messages. */
    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs anyway
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ")";
    }

    /** Deletes a directory tree (nothing if null or missing). */
    static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
