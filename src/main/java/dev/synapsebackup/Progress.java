package dev.synapsebackup;

/**
 * Receives progress of a long operation. Called from the thread doing the work; implementations
 * must be cheap (they are called for every buffer).
 */
public interface Progress {
    /** Does nothing. */
    Progress NONE = new Progress() {
    };

    /** A phase starts; {@code totalBytes} is -1 when unknown. */
    default void start(String phase, long totalBytes) {
    }

    /** {@code bytes} more bytes are done. */
    default void advance(long bytes) {
    }

    /** The current phase is over. */
    default void finish() {
    }

    /** A warning worth showing even when progress is not (e.g. a file skipped). */
    default void warn(String message) {
    }
}
