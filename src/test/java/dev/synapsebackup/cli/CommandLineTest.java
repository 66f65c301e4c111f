package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@link Main#commandLine(Main, String[])} builds only the named command, with the same help. */
class CommandLineTest {
    private static String usage(CommandLine cl) {
        return cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    @Test
    void aCommandLineNamingOneCommandBuildsThatOneWithTheSameHelp() {
        CommandLine full = Main.commandLine(new Main());
        assertThat(full.getSubcommands()).hasSizeGreaterThan(10);
        for (String name : full.getSubcommands().keySet()) {
            if (name.equals("help")) {
                continue;
            }
            CommandLine lazy = Main.commandLine(new Main(), new String[] {name, "--quiet"});
            assertThat(lazy.getSubcommands()).containsOnlyKeys(name);
            assertThat(usage(lazy.getSubcommands().get(name))).isEqualTo(usage(full.getSubcommands().get(name)));
        }
    }

    @Test
    void helpVersionAndAnythingElseGetEveryCommand() {
        int all = Main.commandLine(new Main()).getSubcommands().size();
        for (String[] args : new String[][] {{}, {"--help"}, {"-h", "list"}, {"--version"}, {"help", "create"},
                {"lst"}, {"--config", "x", "create"}}) {
            CommandLine cl = Main.commandLine(new Main(), args);
            assertThat(cl.getSubcommands()).as(String.join(" ", args)).hasSize(all);
        }
        assertThat(usage(Main.commandLine(new Main(), new String[] {"--help"})))
                .isEqualTo(usage(Main.commandLine(new Main())));
    }
}
