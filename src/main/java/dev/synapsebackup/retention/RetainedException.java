package dev.synapsebackup.retention;

import dev.synapsebackup.SynapseBackupException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A {@code delete} refused because backups it would remove are still under retention (S3 Object
 * Lock): nothing was deleted. Exit code 1; {@link #retained()} names them with their
 * retain-until dates.
 */
public final class RetainedException extends SynapseBackupException {
    private static final long serialVersionUID = 1L;
    private final transient Map<String, Instant> retained;

    RetainedException(Map<String, Instant> retained) {
        super(FAILED, message(retained));
        this.retained = Map.copyOf(retained);
    }

    private static String message(Map<String, Instant> retained) {
        return "not deleted: " + retained.entrySet().stream()
                .map(e -> "backup " + e.getKey() + " is under retention until " + e.getValue())
                .collect(Collectors.joining(", ")) + " (S3 Object Lock); nothing was deleted, run delete again after then";
    }

    /** The retained backups and until when, in the order the delete would have removed them. */
    public Map<String, Instant> retained() {
        return new LinkedHashMap<>(retained);
    }
}
