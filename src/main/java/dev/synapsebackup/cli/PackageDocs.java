package dev.synapsebackup.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Writes the package's bash completion and man page from the command line's own definitions,
 * so that they always match {@code --help}: {@code java -cp synapse-backup.jar
 * dev.synapsebackup.cli.PackageDocs completion|man}. Used by {@code bin/package}, which also
 * asks it for the version and the jar's {@code Class-Path} (the libraries to ship).
 */
public final class PackageDocs {
    private PackageDocs() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        CommandLine cl = Main.commandLine(new Main());
        switch (args.length == 1 ? args[0] : "") {
            case "completion" -> out.print(AutoComplete.bash("synapse-backup", cl));
            case "man" -> out.print(manPage(cl, System.getenv("SOURCE_DATE_EPOCH")));
            case "version" -> out.println(Main.version());
            case "classpath" -> out.println(classPath());
            default -> {
                System.err.println("usage: PackageDocs completion|man|version|classpath");
                System.exit(2);
            }
        }
    }

    /** The jar's manifest {@code Class-Path}: the libraries it runs with, relative to it. */
    private static String classPath() {
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(
                new java.io.File(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()))) {
            return jar.getManifest().getMainAttributes().getValue(java.util.jar.Attributes.Name.CLASS_PATH);
        } catch (java.io.IOException | java.net.URISyntaxException e) {
            throw new IllegalStateException("cannot read the jar's manifest", e);
        }
    }

    /** The man page (troff, man macros) of the command and its visible subcommands. */
    static String manPage(CommandLine cl, String sourceDateEpoch) {
        CommandSpec top = cl.getCommandSpec();
        // A reproducible date: the build's, when given.
        LocalDate date = sourceDateEpoch == null ? LocalDate.now(ZoneOffset.UTC)
                : LocalDate.ofEpochDay(Long.parseLong(sourceDateEpoch) / 86400);
        StringBuilder sb = new StringBuilder();
        sb.append(".TH SYNAPSE\\-BACKUP 1 \"").append(date).append("\" \"synapse-backup ").append(Main.version())
                .append("\" \"User Commands\"\n");
        sb.append(".SH NAME\nsynapse\\-backup \\- ").append(esc(first(top.usageMessage().description()))).append('\n');
        sb.append(".SH SYNOPSIS\n.B synapse\\-backup\n.I COMMAND\n[\\fIOPTIONS\\fR]\n");
        sb.append(".SH DESCRIPTION\n");
        paragraphs(sb, top.usageMessage().description());
        sb.append(".SH COMMANDS\n");
        for (CommandLine sub : cl.getSubcommands().values().stream().distinct().toList()) {
            CommandSpec spec = sub.getCommandSpec();
            if (spec.usageMessage().hidden() || spec.name().equals("help")) {
                continue;
            }
            sb.append(".SS ").append(esc(spec.name()));
            for (PositionalParamSpec p : spec.positionalParameters()) {
                sb.append(' ').append(esc(p.paramLabel()));
            }
            sb.append('\n');
            paragraphs(sb, spec.usageMessage().description());
            for (OptionSpec o : spec.options()) {
                if (o.hidden() || isCommon(top, o) || o.usageHelp() || o.versionHelp()) {
                    continue;
                }
                option(sb, o);
            }
        }
        sb.append(".SH COMMON OPTIONS\nEvery command accepts these.\n");
        CommandSpec create = cl.getSubcommands().get("create").getCommandSpec();
        for (OptionSpec o : create.options()) {
            if (isCommon(top, o) && !o.hidden()) {
                option(sb, o);
            }
        }
        sb.append(".SH FILES\n.TP\n.I /etc/synapse-backup/config.yaml\nThe configuration, read when \\fB\\-\\-config\\fR is not given;"
                + " /etc/synapse-backup/config.yaml.example documents every key.\n"
                + ".TP\n.I /lib/systemd/system/synapse-backup.timer\nRuns \\fBcreate\\fR every night once enabled"
                + " (\\fBsystemctl enable \\-\\-now synapse-backup.timer\\fR); synapse-backup-prune.timer runs \\fBprune\\fR.\n"
                + ".TP\n.I /var/lib/synapse-backup\nWith \\fBencryption.recipients\\fR: the newest manifest, kept for the next"
                + " incremental backup (config key state\\-directory).\n");
        sb.append(".SH EXIT STATUS\n0 ok, 1 failed, 2 usage error or invalid configuration, 3 bucket or repository cannot be accessed,"
                + " 4 backup id does not exist, 5 wrong passphrase or integrity failure, 6 repository locked, 130 interrupted.\n");
        sb.append(".SH SEE ALSO\n.BR gpg (1),\n.BR tar (1),\n.BR systemd.timer (5)\n");
        return sb.toString();
    }

    /** The options of the {@link CommonOptions} mixin, which every command has. */
    private static boolean isCommon(CommandSpec top, OptionSpec o) {
        return COMMON.contains(o.longestName());
    }

    private static final List<String> COMMON = commonNames();

    private static List<String> commonNames() {
        return CommandLine.Model.CommandSpec.forAnnotatedObject(new CommonOptions()).options().stream()
                .map(OptionSpec::longestName).toList();
    }

    private static void option(StringBuilder sb, OptionSpec o) {
        sb.append(".TP\n\\fB").append(esc(String.join(", ", o.names()))).append("\\fR");
        if (o.arity().max() > 0) {
            sb.append(" \\fI").append(esc(o.paramLabel())).append("\\fR");
        }
        sb.append('\n').append(esc(String.join(" ", o.description()))).append('\n');
    }

    private static void paragraphs(StringBuilder sb, String[] lines) {
        for (String line : lines) {
            if (line.isBlank()) {
                sb.append(".PP\n");
            } else if (line.startsWith(" ")) {
                sb.append(".br\n").append(esc(line.strip())).append('\n');
            } else {
                sb.append(esc(line.strip())).append('\n');
            }
        }
    }

    private static String first(String[] lines) {
        String s = lines.length == 0 ? "" : lines[0];
        return s.endsWith(".") ? s.substring(0, s.length() - 1).toLowerCase(Locale.ROOT).charAt(0) + s.substring(1, s.length() - 1) : s;
    }

    /** Escapes text for troff: backslashes, hyphens, and a leading dot or quote. */
    static String esc(String s) {
        String e = s.replace("\\", "\\e").replace("-", "\\-");
        if (e.startsWith(".") || e.startsWith("'")) {
            e = "\\&" + e;
        }
        return e;
    }
}
