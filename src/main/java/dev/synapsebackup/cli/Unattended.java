package dev.synapsebackup.cli;

import dev.synapsebackup.Shutdown;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.backup.RepositoryFactory;
import dev.synapsebackup.config.Notifications;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.monitoring.Hooks;
import dev.synapsebackup.monitoring.MetricsFile;
import dev.synapsebackup.monitoring.Ping;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.Repository;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine;

/**
 * The one place every command starts and ends for the outside world (SPEC §7): the hooks and the
 * ping around it, and the metrics file after it. None of them changes the command's exit code;
 * their failures are warnings on stderr.
 */
final class Unattended {
    /**
     * The commands that run hooks and pings: those a schedule runs or that change the repository.
     * An admin's {@code list} or {@code show} must not make a dead timer look alive.
     */
    static final Set<String> HOOKED = Set.of("create", "prune", "verify", "restore", "delete");

    private Unattended() {
    }

    /** Runs the parsed command line, wrapped when it is a repository command. */
    static int execute(CommandLine.ParseResult parsed, Context ctx, boolean verbose) {
        CommandLine leaf = parsed.asCommandLineList().get(parsed.asCommandLineList().size() - 1);
        boolean help = parsed.asCommandLineList().stream()
                .anyMatch(c -> c.isUsageHelpRequested() || c.isVersionHelpRequested());
        if (help || !(leaf.getCommand() instanceof BaseCommand command)) {
            return new CommandLine.RunLast().execute(parsed);
        }
        String name = leaf.getCommandName();
        PrintStream err = ctx.err();
        Instant started = Instant.now();
        long t0 = System.nanoTime();
        ToolConfig config = null;
        try {
            config = command.loadConfig();
        } catch (SynapseBackupException e) {
            // The command reports it, and exits 2; the --metrics-file flag still records that.
        }
        Notifications n = config == null ? Notifications.NONE : config.notifications();
        if (command.common.metricsFile != null) {
            n = n.withMetricsFile(command.common.metricsFile);
        }
        // restore --print-command only prints a procedure.
        boolean hooked = HOOKED.contains(name) && !leaf.getParseResult().hasMatchedOption("--print-command");
        String idArgument = idArgument(leaf);
        if (hooked) {
            n.pingUrl().ifPresent(url -> ping(url, "/start", err));
            Hooks.run("before", n.before(), ctx.env(), name, idArgument, null, err);
        }

        int code = SynapseBackupException.FAILED;
        try {
            code = new CommandLine.RunLast().execute(parsed);
        } catch (CommandLine.ExecutionException e) {
            if (!(e.getCause() instanceof Exception cause)) {
                throw e;
            }
            code = Main.handle(cause, err, verbose);
        } catch (CommandLine.ParameterException e) {
            code = SynapseBackupException.USAGE;
            throw e;
        } finally {
            if (Shutdown.requested() && code != 0) {
                code = SynapseBackupException.INTERRUPTED;
            }
            ctx.out().flush();
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            String id = command.figures.backupId != null ? command.figures.backupId : idArgument;
            if (hooked) {
                if (code == 0) {
                    Hooks.run("after", n.after(), ctx.env(), name, id, code, err);
                } else {
                    Hooks.run("on-error", n.onError(), ctx.env(), name, id, code, err);
                }
                int c = code;
                n.pingUrl().ifPresent(url -> ping(url, c == 0 ? "" : "/fail", err));
            }
            if (n.metricsFile().isPresent()) {
                writeMetrics(n.metricsFile().get(), new MetricsFile.Run(name, started, took, code, command.figures.bytes,
                        command.figures.files), config, code, err);
            }
        }
        return code;
    }

    /** The backup id a command was given ({@code verify ID}, {@code restore ID}, ...), if any. */
    private static String idArgument(CommandLine leaf) {
        for (CommandLine.Model.PositionalParamSpec p : leaf.getCommandSpec().positionalParameters()) {
            if (p.paramLabel().equals("ID") && p.getValue() != null) {
                Object v = p.getValue();
                return String.valueOf(v);
            }
        }
        return null;
    }

    private static void ping(java.net.URI url, String suffix, PrintStream err) {
        String problem = Ping.send(url, suffix);
        if (problem != null) {
            err.println("warning: " + problem);
        }
    }

    private static void writeMetrics(java.nio.file.Path file, MetricsFile.Run run, ToolConfig config, int code, PrintStream err) {
        Optional<MetricsFile.RepositoryStats> stats = Optional.empty();
        // Without a configuration, an accessible repository or after a signal, the repository's
        // figures of the last look stay.
        if (config != null && code != SynapseBackupException.ACCESS && code != SynapseBackupException.INTERRUPTED) {
            try (Repository repo = RepositoryFactory.open(config)) {
                stats = Optional.of(stats(repo.list()));
            } catch (RuntimeException e) {
                err.println("warning: the metrics keep the previous backup count: cannot list the repository: " + e.getMessage());
            }
        }
        try {
            MetricsFile.update(file, run, stats);
        } catch (java.io.IOException | RuntimeException e) {
            err.println("warning: cannot write the metrics file " + file + ": " + e.getMessage());
        }
    }

    static MetricsFile.RepositoryStats stats(List<BackupEntry> backups) {
        List<Instant> times = backups.stream().filter(b -> b.status() != BackupEntry.Status.UNFINISHED)
                .map(b -> BackupId.timeOf(b.id()).orElse(b.lastModified())).sorted(Comparator.naturalOrder()).toList();
        return new MetricsFile.RepositoryStats(times.size(),
                times.isEmpty() ? Optional.empty() : Optional.of(times.get(times.size() - 1)),
                times.isEmpty() ? Optional.empty() : Optional.of(times.get(0)));
    }
}
