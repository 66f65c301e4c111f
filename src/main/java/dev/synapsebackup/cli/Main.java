package dev.synapsebackup.cli;

import dev.synapsebackup.Shutdown;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.io.WorkDir;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntConsumer;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code synapse-backup} command line: a thin layer over the {@code backup} package that
 * parses flags, prints results as text or JSON, and maps failures to the exit codes of SPEC §2.
 */
@Command(name = "synapse-backup", mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        usageHelpAutoWidth = true,
        synopsisHeading = "%nUsage: ",
        descriptionHeading = "%n",
        parameterListHeading = "%nArguments:%n",
        optionListHeading = "%nOptions:%n",
        commandListHeading = "%nCommands:%n",
        footerHeading = "%n",
        header = "Encrypted, verifiable backups of a Matrix Synapse homeserver to S3 or a local directory.",
        description = {
            "Every command reads its settings from the command line, the environment and the config file"
                + " (--config FILE, default /etc/synapse-backup/config.yaml), in that order of precedence. Run"
                + " `synapse-backup COMMAND --help` for a command's options."},
        footer = {
            "Examples:",
            "  synapse-backup check                 # is everything in place for a backup?",
            "  synapse-backup create                # make a backup; prints its id",
            "  synapse-backup list                  # the backups, oldest first",
            "  synapse-backup verify ID             # read a backup back, check every file",
            "  synapse-backup restore ID --dry-run  # what a restore would change",
            "  synapse-backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 6",
            "",
            "Exit codes:",
            "  0    ok",
            "  1    the operation failed",
            "  2    usage error or invalid configuration",
            "  3    the bucket or repository cannot be accessed",
            "  4    the backup id does not exist",
            "  5    wrong passphrase, or an integrity failure",
            "  6    the repository is locked by another run",
            "  130  interrupted"})
public final class Main implements Runnable {
    /** The subcommands, in the order of the help ({@link #commandLine(Main, String[])} adds them). */
    private static final List<Class<?>> COMMANDS = List.of(CheckCommand.class, CreateCommand.class, ListCommand.class,
            ShowCommand.class, VerifyCommand.class, RestoreCommand.class, DeleteCommand.class, PruneCommand.class,
            UnlockCommand.class, GenerateSampleCommand.class, TrainStartupCommand.class, CommandLine.HelpCommand.class);
    private Context context;

    Context context() {
        return context;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(new CommandLine(this), "a command is required (see --help)");
    }

    /** Entry point of the launcher. */
    public static void main(String[] args) {
        configureLogging(args);
        Context ctx = new Context(System.getenv(), System.out, System.err, System.console(),
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)),
                ToolConfig.DEFAULT_CONFIG_FILE);
        // SIGINT/SIGTERM interrupt the command so that it cleans up; the JVM waits for that.
        IntConsumer finished = Shutdown.install(Thread.currentThread(), Shutdown.PATIENCE);
        int code = 1;
        try {
            code = run(args, ctx);
        } finally {
            // A command that failed once a signal came was interrupted, whatever it made of that
            // (check turns an aborted request into "cannot be accessed").
            if (Shutdown.requested() && code != 0) {
                code = SynapseBackupException.INTERRUPTED;
            }
            System.out.flush();
            WorkDir.removeOwn();
            finished.accept(code);
        }
        Shutdown.exiting();
        System.exit(code);
    }

    /** The command line of {@code main}, every subcommand's help laid out as the top level's. */
    static CommandLine commandLine(Main main) {
        return commandLine(main, COMMANDS);
    }

    /**
     * The command line of {@code main} for {@code args}: with only the subcommand that they name
     * when it is one (picocli builds each command's model by reflection, which costs a short run
     * a tenth of a second for the whole set); with all of them for the top-level help, {@code
     * help}, and anything that is not a command name, so that help and errors are as complete.
     */
    static CommandLine commandLine(Main main, String[] args) {
        for (String a : args) {
            if (a.startsWith("-")) {
                if (a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version")) {
                    break; // a top-level option before any command
                }
                continue;
            }
            for (Class<?> c : COMMANDS) {
                Command command = c.getAnnotation(Command.class);
                if (c != CommandLine.HelpCommand.class && command.name().equals(a)) {
                    return commandLine(main, List.of(c));
                }
            }
            break;
        }
        return commandLine(main, COMMANDS);
    }

    private static CommandLine commandLine(Main main, List<Class<?>> commands) {
        CommandLine cl = new CommandLine(main);
        for (Class<?> c : commands) {
            cl.addSubcommand(c);
        }
        for (CommandLine sub : cl.getSubcommands().values()) {
            sub.getCommandSpec().usageMessage().autoWidth(true).synopsisHeading("%nUsage: ").descriptionHeading("%n")
                    .parameterListHeading("%nArguments:%n").optionListHeading("%nOptions:%n");
        }
        return cl;
    }

    /** Runs one command line against {@code ctx} and returns its exit code. */
    public static int run(String[] args, Context ctx) {
        // Plaintext of runs killed before they could clean up (SIGKILL, the OOM killer).
        WorkDir.sweep(Path.of(System.getProperty("java.io.tmpdir")));
        Main main = new Main();
        main.context = ctx;
        CommandLine cl = commandLine(main, args);
        cl.setOut(new java.io.PrintWriter(ctx.out(), true));
        cl.setErr(new java.io.PrintWriter(ctx.err(), true));
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> handle(ex, ctx.err(), isVerbose(args)));
        cl.setExecutionStrategy(parsed -> Unattended.execute(parsed, ctx, isVerbose(args)));
        cl.setParameterExceptionHandler((ex, argv) -> {
            ctx.err().println("error: " + ex.getMessage());
            ctx.err().println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for more information.");
            return SynapseBackupException.USAGE;
        });
        int code = cl.execute(args);
        ctx.out().flush();
        return code;
    }

    static int handle(Exception ex, PrintStream err, boolean verbose) {
        if (verbose) {
            ex.printStackTrace(err);
        }
        if (Shutdown.requested() || ex instanceof InterruptedException || ex instanceof java.io.InterruptedIOException) {
            // The command failed because a signal interrupted it; its clean-up has run.
            err.println("interrupted: " + ex.getMessage());
            return SynapseBackupException.INTERRUPTED;
        }
        if (ex instanceof SynapseBackupException e) {
            err.println(e.getMessage());
            return e.exitCode();
        }
        if (ex instanceof UncheckedIOException e) {
            err.println("error: " + e.getMessage() + (e.getCause() != null && e.getCause().getMessage() != null
                    ? ": " + e.getCause().getMessage() : ""));
            return SynapseBackupException.FAILED;
        }
        if (ex instanceof java.io.IOException) {
            err.println("error: " + ex.getMessage());
            return SynapseBackupException.FAILED;
        }
        err.println("internal error: " + ex + (verbose ? "" : " (run with --verbose for details)"));
        return SynapseBackupException.FAILED;
    }

    private static boolean isVerbose(String[] args) {
        for (String a : args) {
            if (a.equals("--verbose")) {
                return true;
            }
        }
        return false;
    }

    private static void configureLogging(String[] args) {
        String level = "warn";
        for (String a : args) {
            if (a.equals("--verbose")) {
                level = "debug";
            } else if (a.equals("--quiet") && !level.equals("debug")) {
                level = "error";
            }
        }
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.hc", level.equals("debug") ? "info" : "warn");
        System.setProperty("org.slf4j.simpleLogger.log.software.amazon.awssdk", level.equals("debug") ? "info" : "warn");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showLogName", "false");
        System.setProperty("org.slf4j.simpleLogger.levelInBrackets", "true");
    }

    /** Reads the version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"synapse-backup " + version()};
        }
    }

    /** The tool version, from the jar manifest (or "dev" when run from classes). */
    public static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

}
