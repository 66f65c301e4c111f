package dev.synapsebackup.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.PrintStream;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/**
 * Where a command's words go: results on stdout (always, or as one JSON document with
 * {@code --json}), information and progress on stderr (not with {@code --quiet}).
 */
final class Output {
    static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(SerializationFeature.INDENT_OUTPUT);

    final PrintStream out;
    final PrintStream err;
    final boolean json;
    final boolean quiet;
    final boolean verbose;

    Output(PrintStream out, PrintStream err, boolean json, boolean quiet, boolean verbose) {
        this.out = out;
        this.err = err;
        this.json = json;
        this.quiet = quiet;
        this.verbose = verbose;
    }

    /** A result line on stdout (suppressed only by --json, which prints the document instead). */
    void result(String line) {
        if (!json) {
            out.println(line);
        }
    }

    /** An informational message on stderr. */
    void info(String line) {
        if (!quiet) {
            err.println(line);
        }
    }

    /** A warning on stderr; shown even with --quiet. */
    void warn(String line) {
        err.println("warning: " + line);
    }

    /** An error on stderr. */
    void error(String line) {
        err.println(line);
    }

    /** Adds the duration and throughput fields every long-running command's JSON carries. */
    static void putTiming(java.util.Map<String, Object> m, java.time.Duration duration, double mbPerSecond) {
        m.put("duration-seconds", duration.toMillis() / 1000.0);
        m.put("throughput-mb-per-second", Math.round(mbPerSecond * 10) / 10.0);
    }

    /** A time as list and prune print it: ISO-8601 in UTC, to the second. */
    static String time(Instant t) {
        return DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
    }

    /** Prints {@code value} as the one JSON document on stdout. */
    void json(Object value) {
        try {
            out.println(JSON.writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render JSON result", e);
        }
    }
}
