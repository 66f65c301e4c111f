package dev.synapsebackup.cli;

import dev.synapsebackup.Progress;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on stderr (bytes done/total, MB/s, ETA) when stderr is a terminal; warnings
 * always go to stderr.
 */
final class ConsoleProgress implements Progress {
    private final PrintStream err;
    private final boolean show;
    private ProgressBar bar;

    private ConsoleProgress(PrintStream err, boolean show) {
        this.err = err;
        this.show = show;
    }

    /** Progress for a command: a bar only if not quiet, not JSON-only, and stderr is a terminal. */
    static Progress forCommand(Output out) {
        boolean show = !out.quiet && out.err == System.err && stderrIsTerminal();
        return new ConsoleProgress(out.err, show);
    }

    static boolean stderrIsTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (Exception e) {
            return System.console() != null;
        }
    }

    @Override
    public void start(String phase, long totalBytes) {
        finish();
        if (!show) {
            return;
        }
        if (totalBytes < 0) {
            // Nothing to count (a database snapshot): a line says what is going on.
            err.println(phase + " ...");
            return;
        }
        bar = new ProgressBarBuilder()
                .setTaskName(phase.length() > 40 ? phase.substring(0, 40) : phase)
                .setInitialMax(totalBytes)
                .setUnit(" MiB", 1 << 20)
                .showSpeed()
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250)
                .setMaxRenderedLength(110)
                .setEtaFunction(state -> state.getMax() > 0 && state.getCurrent() > 0
                        ? java.util.Optional.of(Duration.ofMillis((long) (state.getTotalElapsed().toMillis()
                                * (double) (state.getMax() - state.getCurrent()) / state.getCurrent())))
                        : java.util.Optional.empty())
                .setConsumer(new ConsoleProgressBarConsumer(err))
                .continuousUpdate()
                .build();
    }

    @Override
    public void advance(long bytes) {
        if (bar != null) {
            bar.stepBy(bytes);
        }
    }

    @Override
    public void finish() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    @Override
    public void warn(String message) {
        err.println("warning: " + message);
    }
}
