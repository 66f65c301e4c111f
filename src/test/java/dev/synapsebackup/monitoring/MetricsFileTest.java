package dev.synapsebackup.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.monitoring.MetricsFile.RepositoryStats;
import dev.synapsebackup.monitoring.MetricsFile.Run;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The textfile's merge rules, without a command around them. */
class MetricsFileTest {
    @TempDir
    Path dir;

    private static Run run(String command, int exit) {
        return new Run(command, Instant.parse("2026-01-02T03:04:05.678Z"), Duration.ofMillis(1500), exit, 10, 2);
    }

    private static void promtool(Path file) throws Exception {
        Process p = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).isBlank();
    }

    @Test
    void aForeignOrDamagedFileIsReplacedByOurSeriesOnly() throws Exception {
        Path f = dir.resolve("m.prom");
        Files.write(f, new byte[] {(byte) 0xff, 'x', '\n'});
        MetricsFile.update(f, run("create", 0), Optional.empty());
        promtool(f);
        Files.writeString(f, "# HELP other_metric x\n# TYPE other_metric gauge\nother_metric 1\nsynapse_backup_last_exit_code{command=\"create\"} 0\n"
                + "synapse_backup_last_exit_code{command=\"Create\"} 0\nhalf a line", StandardCharsets.UTF_8);
        MetricsFile.update(f, run("prune", 6), Optional.of(new RepositoryStats(0, Optional.empty(), Optional.empty())));
        String text = Files.readString(f);
        assertThat(text).doesNotContain("other_metric").doesNotContain("Create").doesNotContain("half")
                .contains("synapse_backup_last_exit_code{command=\"create\"} 0\n")
                .contains("synapse_backup_last_exit_code{command=\"prune\"} 6\n")
                .contains("synapse_backup_last_run_timestamp_seconds{command=\"prune\"} 1767323045.678\n")
                .contains("synapse_backup_last_duration_seconds{command=\"prune\"} 1.500\n")
                .contains("synapse_backup_backups 0\n").doesNotContain("newest");
        promtool(f);
    }

    @Test
    void concurrentUpdatesLoseNoCommand() throws Exception {
        Path f = dir.resolve("m.prom");
        List<String> commands = List.of("create", "prune", "verify", "list", "show", "check", "delete", "restore");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (String c : commands) {
                done.add(pool.submit(() -> {
                    MetricsFile.update(f, run(c, 0), Optional.empty());
                    return null;
                }));
            }
            for (Future<?> d : done) {
                d.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        Map<String, java.util.TreeMap<String, String>> series = MetricsFile.read(f);
        assertThat(series.get(MetricsFile.LAST_EXIT).keySet()).containsExactlyInAnyOrderElementsOf(commands);
        promtool(f);
    }
}
