package dev.synapsebackup.synapse;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.SynapseBackupException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops and starts Synapse around a live restore: with the configured commands (for example
 * {@code systemctl stop matrix-synapse.target}), or else, like {@code synctl stop}, by sending
 * SIGTERM to the process named in homeserver.yaml's {@code pid_file} and waiting for it to exit.
 * Commands run without a shell and with the tool's environment less its secrets
 * ({@link dev.synapsebackup.config.ChildEnvironment}); their output is captured and shown only
 * when they fail.
 */
public final class ServiceControl {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceControl.class);

    private final List<String> stopCommand;
    private final List<String> startCommand;
    private final Optional<Path> pidFile;
    private final Duration timeout;
    private boolean stoppedByPid;

    /**
     * @param stopCommand  the configured stop command, or empty
     * @param startCommand the configured start command, or empty
     * @param pidFile      Synapse's pid file, if its config names one
     * @param timeout      how long a command or a process exit may take
     */
    public ServiceControl(List<String> stopCommand, List<String> startCommand, Optional<Path> pidFile, Duration timeout) {
        this.stopCommand = List.copyOf(stopCommand);
        this.startCommand = List.copyOf(startCommand);
        this.pidFile = pidFile;
        this.timeout = timeout;
    }

    /** The live Synapse process from the pid file, if there is one. */
    public Optional<ProcessHandle> runningProcess() {
        if (pidFile.isEmpty()) {
            return Optional.empty();
        }
        String text;
        try {
            text = Files.readString(pidFile.get(), StandardCharsets.US_ASCII).trim();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new SynapseBackupException("cannot read Synapse's pid file " + pidFile.get() + ": " + e.getMessage());
        }
        long pid;
        try {
            pid = Long.parseLong(text);
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    }

    /** Whether a stop is possible without {@code --no-service}: a command, or a live pid. */
    public boolean canStop() {
        return !stopCommand.isEmpty() || runningProcess().isPresent();
    }

    /**
     * Stops Synapse. With no stop command and no live process in the pid file, refuses unless
     * {@code noService} (the admin has stopped it): a restore never writes under a running Synapse.
     */
    public void stop(boolean noService) {
        if (!stopCommand.isEmpty()) {
            run(stopCommand, "stop");
            waitForPidExit();
            return;
        }
        Optional<ProcessHandle> p = runningProcess();
        if (p.isPresent()) {
            LOG.info("sending SIGTERM to Synapse (pid {})", p.get().pid());
            p.get().destroy();
            stoppedByPid = true;
            waitForPidExit();
            return;
        }
        if (!noService) {
            throw new ConfigException("cannot stop Synapse: set \"service.stop-command\" and \"service.start-command\""
                    + " in the config file (e.g. [systemctl, stop, matrix-synapse.target]), or set pid_file in"
                    + " homeserver.yaml, or stop Synapse yourself and pass --no-service");
        }
    }

    /** Refuses to go on if the pid file names a live process (with --no-service). */
    public void ensureNotRunning() {
        Optional<ProcessHandle> p = runningProcess();
        if (p.isPresent()) {
            throw new SynapseBackupException("Synapse is still running (pid " + p.get().pid() + " in " + pidFile.orElseThrow()
                    + "): stop it before restoring");
        }
    }

    private void waitForPidExit() {
        Optional<ProcessHandle> p = runningProcess();
        if (p.isEmpty()) {
            return;
        }
        try {
            p.get().onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new SynapseBackupException("Synapse (pid " + p.get().pid() + ") did not exit within "
                    + timeout.toSeconds() + " s of being stopped; nothing was restored");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException("interrupted while waiting for Synapse to stop");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new SynapseBackupException("cannot wait for Synapse to stop: " + e.getCause());
        }
    }

    /**
     * Starts Synapse with the start command.
     *
     * @return false if there is no start command (the caller tells the admin to start it)
     */
    public boolean start() {
        if (startCommand.isEmpty()) {
            return false;
        }
        run(startCommand, "start");
        return true;
    }

    /** Whether Synapse was stopped by signalling its pid (so it cannot be started again by us). */
    public boolean stoppedByPid() {
        return stoppedByPid;
    }

    /** A stop or start command that ran and exited non-zero. */
    public static final class CommandFailedException extends SynapseBackupException {
        private static final long serialVersionUID = 1L;
        /** How many of the last output lines are kept. */
        static final int TAIL_LINES = 20;
        private final List<String> command;
        private final int commandExitCode;
        private final List<String> outputTail;

        CommandFailedException(String message, List<String> command, int commandExitCode, List<String> outputTail) {
            super(message);
            this.command = List.copyOf(command);
            this.commandExitCode = commandExitCode;
            this.outputTail = List.copyOf(outputTail);
        }

        /** The command as configured. */
        public List<String> command() {
            return command;
        }

        /** The command's exit code. */
        public int commandExitCode() {
            return commandExitCode;
        }

        /** The last lines of its output (stdout and stderr together). */
        public List<String> outputTail() {
            return outputTail;
        }
    }

    private void run(List<String> command, String what) {
        Path log = null;
        try {
            log = Files.createTempFile(dev.synapsebackup.io.WorkDir.get(), what, ".log");
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            // Synapse's service commands need none of the tool's secrets.
            dev.synapsebackup.config.ChildEnvironment.scrub(pb.environment());
            Process p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new SynapseBackupException("the " + what + " command " + command + " did not finish within "
                        + timeout.toSeconds() + " s");
            }
            if (p.exitValue() != 0) {
                String full = Files.readString(log, StandardCharsets.UTF_8).strip();
                String out = full.length() > 2000 ? "…" + full.substring(full.length() - 2000) : full;
                List<String> lines = full.isEmpty() ? List.of() : full.lines().toList();
                List<String> tail = lines.subList(Math.max(0, lines.size() - CommandFailedException.TAIL_LINES), lines.size())
                        .stream().map(l -> l.length() > 500 ? l.substring(0, 500) + "…" : l).toList();
                throw new CommandFailedException("the " + what + " command " + command + " failed with exit code "
                        + p.exitValue() + (out.isEmpty() ? "" : ": " + out), command, p.exitValue(), tail);
            }
        } catch (IOException e) {
            throw new SynapseBackupException("cannot run the " + what + " command " + command + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException("interrupted while running the " + what + " command " + command);
        } finally {
            if (log != null) {
                try {
                    Files.deleteIfExists(log);
                } catch (IOException ignored) {
                    // a temporary log file left behind is harmless
                }
            }
        }
    }
}
