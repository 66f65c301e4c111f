package dev.synapsebackup.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What an unattended run reports to the outside (SPEC §7): the Prometheus textfile, the hook
 * commands and the ping URL. All optional.
 *
 * @param metricsFile where the Prometheus text-format metrics are written after every command
 * @param before      commands (each an argv) run before a command
 * @param after       commands run after a command that succeeded
 * @param onError     commands run after a command that failed
 * @param pingUrl     a Healthchecks-style URL: {@code /start} before, itself on success, {@code /fail} on failure
 */
public record Notifications(Optional<Path> metricsFile, List<List<String>> before, List<List<String>> after,
                            List<List<String>> onError, Optional<URI> pingUrl) {
    /** Nothing configured. */
    public static final Notifications NONE = new Notifications(Optional.empty(), List.of(), List.of(), List.of(), Optional.empty());

    public Notifications {
        before = before.stream().map(List::copyOf).toList();
        after = after.stream().map(List::copyOf).toList();
        onError = onError.stream().map(List::copyOf).toList();
    }

    /** The same, with the metrics file replaced (the {@code --metrics-file} flag). */
    public Notifications withMetricsFile(Path file) {
        return new Notifications(Optional.of(file), before, after, onError, pingUrl);
    }
}
