package dev.synapsebackup.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.synapsebackup.cli.Context;
import dev.synapsebackup.cli.Main;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Runs one synapse-backup command line several times in one JVM, a diagnostic beside bench/run.sh
 * (which runs the tool cold, as users do): the later runs use code the JIT compiler has already
 * compiled, so the difference to the first run is the JVM's warm-up (compilation, class loading),
 * which every real run pays.
 *
 * <p>Usage: {@code WarmRuns N ARG...}; {@code {i}} in an argument becomes the run's number (for
 * {@code --target DIR{i}}). For each run it prints on stderr one line
 * {@code warm-run I EXIT WALL_S CPU_S JIT_S}: wall time, the process's CPU time and the JIT
 * compilers' time during that run. Exits 1 if a run failed.
 */
public final class WarmRuns {
    private WarmRuns() {
    }

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]);
        OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        int failed = 0;
        for (int i = 1; i <= n; i++) {
            String run = String.valueOf(i);
            String[] argv = Arrays.stream(args).skip(1).map(a -> a.replace("{i}", run)).toArray(String[]::new);
            Context ctx = new Context(System.getenv(), System.out, System.err, null,
                    new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)),
                    Path.of("/nonexistent/synapse-backup-bench/config.yaml"));
            long cpu0 = os.getProcessCpuTime();
            long jit0 = jit.getTotalCompilationTime();
            long t0 = System.nanoTime();
            int code = Main.run(argv, ctx);
            long wall = System.nanoTime() - t0;
            System.err.printf("warm-run %d %d %.3f %.3f %.3f%n", i, code, wall / 1e9,
                    (os.getProcessCpuTime() - cpu0) / 1e9, (jit.getTotalCompilationTime() - jit0) / 1e3);
            failed += code == 0 ? 0 : 1;
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
