package dev.synapsebackup.monitoring;

import dev.synapsebackup.config.ChildEnvironment;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the configured hook commands (borgmatic's before/after/on-error). A hook sees the tool's
 * environment without any secret, plus {@code SYNAPSE_BACKUP_COMMAND}, {@code SYNAPSE_BACKUP_ID}
 * and {@code SYNAPSE_BACKUP_EXIT_CODE}; its output goes to the tool's stderr (stdout may carry a
 * JSON document). A hook that fails is reported; it never changes the command's exit code.
 */
public final class Hooks {
    /** How long a hook's output is still copied after the hook exited. */
    private static final java.time.Duration PUMP_GRACE = java.time.Duration.ofSeconds(2);
    private static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private Hooks() {
    }

    /** {@code env} without the variables that hold a secret. */
    public static Map<String, String> withoutSecrets(Map<String, String> env) {
        return ChildEnvironment.scrub(new HashMap<>(env));
    }

    /**
     * Runs each of {@code commands} in turn and waits for it; problems are reported on {@code err}.
     *
     * @return whether every command ran and exited 0
     */
    public static boolean run(String stage, List<List<String>> commands, Map<String, String> env, String command,
            String backupId, Integer exitCode, PrintStream err) {
        boolean ok = true;
        for (List<String> argv : commands) {
            ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Map<String, String> childEnv = pb.environment();
            childEnv.clear();
            childEnv.putAll(withoutSecrets(env));
            childEnv.putIfAbsent("PATH", DEFAULT_PATH);
            childEnv.put("SYNAPSE_BACKUP_COMMAND", command);
            childEnv.put("SYNAPSE_BACKUP_ID", backupId == null ? "" : backupId);
            childEnv.put("SYNAPSE_BACKUP_EXIT_CODE", exitCode == null ? "" : exitCode.toString());
            String what = "hook " + stage + " " + argv.get(0);
            // The command ended (or a signal came): a hook still runs to completion.
            boolean interrupted = Thread.interrupted();
            try {
                Process p = pb.start();
                // Copied by a daemon thread: a hook that leaves a background process holding its
                // stdout open must not hold up the tool once the hook itself has exited.
                Thread pump = new Thread(() -> {
                    try (InputStream in = p.getInputStream()) {
                        in.transferTo(err);
                    } catch (IOException e) {
                        // the hook's output is gone; its exit code still counts
                    }
                }, "hook-output");
                pump.setDaemon(true);
                pump.start();
                int code = p.waitFor();
                pump.join(PUMP_GRACE.toMillis());
                if (code != 0) {
                    err.println("warning: " + what + " failed with exit code " + code);
                    ok = false;
                }
            } catch (IOException e) {
                err.println("warning: " + what + " cannot be run: " + e.getMessage());
                ok = false;
            } catch (InterruptedException e) {
                err.println("warning: " + what + " was interrupted");
                interrupted = true;
                ok = false;
            } finally {
                err.flush();
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        return ok;
    }
}
