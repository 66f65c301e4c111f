package dev.synapsebackup.monitoring;

import java.io.IOException;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Prometheus textfile (text exposition format 0.0.4) that node_exporter's textfile collector
 * reads: the figures of the last run of each command, and the repository's backup count and
 * newest/oldest backup. Each update keeps the series other commands wrote before, and replaces
 * the file atomically (a temporary file in the same directory, renamed over it), so that the
 * collector never reads half a file.
 */
public final class MetricsFile {
    /** The figures of one command run. */
    public record Run(String command, Instant started, Duration duration, int exitCode, long bytes, long files) {
    }

    /** What the repository held after the run (complete backups and other tools' backups). */
    public record RepositoryStats(int backups, Optional<Instant> newest, Optional<Instant> oldest) {
    }

    private record Metric(String name, boolean perCommand, String help) {
    }

    static final String LAST_RUN = "synapse_backup_last_run_timestamp_seconds";
    static final String LAST_SUCCESS = "synapse_backup_last_success_timestamp_seconds";
    static final String LAST_EXIT = "synapse_backup_last_exit_code";
    static final String LAST_DURATION = "synapse_backup_last_duration_seconds";
    static final String LAST_BYTES = "synapse_backup_last_bytes";
    static final String LAST_FILES = "synapse_backup_last_files";
    static final String BACKUPS = "synapse_backup_backups";
    static final String NEWEST = "synapse_backup_newest_backup_timestamp_seconds";
    static final String OLDEST = "synapse_backup_oldest_backup_timestamp_seconds";

    private static final List<Metric> METRICS = List.of(
            new Metric(LAST_RUN, true, "Start time of the last run of the command (Unix seconds)."),
            new Metric(LAST_SUCCESS, true, "End time of the last successful run of the command (Unix seconds)."),
            new Metric(LAST_EXIT, true, "Exit code of the last run of the command (0 = success)."),
            new Metric(LAST_DURATION, true, "Duration of the last run of the command in seconds."),
            new Metric(LAST_BYTES, true, "Bytes the last run of the command moved (create: stored; verify, restore: read); 0 for other commands."),
            new Metric(LAST_FILES, true, "Files in the backup the last run of the command made, verified or restored; 0 for other commands."),
            new Metric(BACKUPS, false, "Backups in the repository (complete ones and other tools' backups), as last seen."),
            new Metric(NEWEST, false, "Creation time of the newest backup in the repository (Unix seconds)."),
            new Metric(OLDEST, false, "Creation time of the oldest backup in the repository (Unix seconds)."));

    /** One sample line we wrote: {@code name{command="x"} value} or {@code name value}. */
    private static final Pattern SAMPLE = Pattern.compile("^(synapse_backup_[a-z_]+)(?:\\{command=\"([a-z-]+)\"})? (\\S+)$");
    private static final Object IN_PROCESS_LOCK = new Object();

    private MetricsFile() {
    }

    /**
     * Records {@code run} (and {@code repository}, when known: otherwise the previous repository
     * figures stay) in {@code file}. Runs that update the same file at once are serialised by a
     * lock on a hidden file beside it.
     */
    public static void update(Path file, Run run, Optional<RepositoryStats> repository) throws IOException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        String name = abs.getFileName().toString();
        synchronized (IN_PROCESS_LOCK) {
            try (FileChannel lockChannel = FileChannel.open(dir.resolve("." + name + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                FileLock lock = lockChannel.lock();
                try {
                    Map<String, TreeMap<String, String>> series = read(abs);
                    apply(series, run, repository);
                    write(abs, dir, name, render(series));
                } finally {
                    lock.release();
                }
            }
        }
    }

    /** The series in an existing file (only ours; a missing file is empty). */
    static Map<String, TreeMap<String, String>> read(Path file) throws IOException {
        Map<String, TreeMap<String, String>> series = new LinkedHashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return series;
        } catch (java.nio.charset.MalformedInputException e) {
            return series; // not ours: replaced
        }
        for (String line : lines) {
            Matcher m = SAMPLE.matcher(line);
            if (m.matches() && METRICS.stream().anyMatch(d -> d.name().equals(m.group(1)) && d.perCommand() == (m.group(2) != null))) {
                series.computeIfAbsent(m.group(1), k -> new TreeMap<>()).put(m.group(2) == null ? "" : m.group(2), m.group(3));
            }
        }
        return series;
    }

    private static void apply(Map<String, TreeMap<String, String>> series, Run run, Optional<RepositoryStats> repository) {
        String c = run.command();
        put(series, LAST_RUN, c, seconds(run.started()));
        if (run.exitCode() == 0) {
            put(series, LAST_SUCCESS, c, seconds(run.started().plus(run.duration())));
        }
        put(series, LAST_EXIT, c, Integer.toString(run.exitCode()));
        put(series, LAST_DURATION, c, String.format(Locale.ROOT, "%.3f", run.duration().toNanos() / 1e9));
        put(series, LAST_BYTES, c, Long.toString(run.bytes()));
        put(series, LAST_FILES, c, Long.toString(run.files()));
        repository.ifPresent(r -> {
            put(series, BACKUPS, "", Integer.toString(r.backups()));
            // An empty repository has no newest or oldest backup: the series goes away.
            series.remove(NEWEST);
            series.remove(OLDEST);
            r.newest().ifPresent(t -> put(series, NEWEST, "", seconds(t)));
            r.oldest().ifPresent(t -> put(series, OLDEST, "", seconds(t)));
        });
    }

    private static void put(Map<String, TreeMap<String, String>> series, String metric, String command, String value) {
        series.computeIfAbsent(metric, k -> new TreeMap<>()).put(command, value);
    }

    private static String seconds(Instant t) {
        return String.format(Locale.ROOT, "%d.%03d", t.getEpochSecond(), t.getNano() / 1_000_000);
    }

    static String render(Map<String, TreeMap<String, String>> series) {
        StringBuilder sb = new StringBuilder();
        for (Metric m : METRICS) {
            TreeMap<String, String> values = series.get(m.name());
            if (values == null || values.isEmpty()) {
                continue;
            }
            sb.append("# HELP ").append(m.name()).append(' ').append(m.help()).append('\n');
            sb.append("# TYPE ").append(m.name()).append(" gauge\n");
            values.forEach((command, value) -> {
                sb.append(m.name());
                if (m.perCommand()) {
                    sb.append("{command=\"").append(command).append("\"}");
                }
                sb.append(' ').append(value).append('\n');
            });
        }
        return sb.toString();
    }

    private static void write(Path file, Path dir, String name, String text) throws IOException {
        // A new file of a random name (never an existing file or a link planted in the directory).
        Path tmp = Files.createTempFile(dir, "." + name + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
                 Writer w = Channels.newWriter(ch, StandardCharsets.UTF_8)) {
                w.write(text);
                w.flush();
                ch.force(true);
            }
            // node_exporter usually runs as its own user: the file must be readable by it.
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + file + " atomically: " + e.getMessage(), e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
