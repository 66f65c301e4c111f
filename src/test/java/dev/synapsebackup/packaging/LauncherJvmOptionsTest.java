package dev.synapsebackup.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.Procs;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The JVM settings of {@code bin/synapse-backup}: its compiler directives are read, the JIT
 * options reach the JVM, and none of it adds a word to the tool's own output (stdout carries
 * {@code --json} for scripts).
 */
class LauncherJvmOptionsTest {
    private static final String LAUNCHER = Launcher.PROJECT.resolve("bin/synapse-backup").toString();

    @Test
    void stdoutCarriesOnlyTheToolsOutput() throws Exception {
        Launcher.ensureBuilt();
        Procs.Result r = Procs.run(List.of(LAUNCHER, "--version"), (byte[]) null, Map.of(), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).matches("synapse-backup \\S+\n");
        assertThat(r.stderr()).isEmpty();
    }

    @Test
    void directivesAndThresholdsReachTheJvm() throws Exception {
        Launcher.ensureBuilt();
        // A plain run first, so that the class data sharing archive is trained with the usual
        // options rather than these.
        assertThat(Procs.run(List.of(LAUNCHER, "--version"), (byte[]) null, Map.of(), null).exitCode()).isZero();
        // The JVM's own output switched back on (later options win) to see what it was given.
        Procs.Result r = Procs.run(List.of(LAUNCHER, "--version"), (byte[]) null,
                Map.of("SYNAPSE_BACKUP_JAVA_OPTS", "-Xmx200m -XX:+UseSerialGC -XX:+UnlockDiagnosticVMOptions -XX:+DisplayVMOutput -XX:+PrintFlagsFinal"), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).contains("1 compiler directives added")
                .containsPattern("CompilerDirectivesFile\\s+= \\S*packaging/compiler-directives\\.json")
                .containsPattern("Tier4InvocationThreshold\\s+= 50000");
    }
}
