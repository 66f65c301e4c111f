package dev.synapsebackup.retention;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * What prune will do: one decision per backup, oldest first, with the reasons.
 *
 * @param decisions one per candidate, oldest first
 * @param warnings  problems found while planning (a kept backup needing one that does not exist)
 * @param retained  the backups kept because the store still retains them (S3 Object Lock), with
 *                  their retain-until dates, oldest backup first
 */
public record PrunePlan(List<Decision> decisions, List<String> warnings, Map<String, Instant> retained) {
    public PrunePlan {
        decisions = List.copyOf(decisions);
        warnings = List.copyOf(warnings);
        retained = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(retained));
    }

    /** A plan in which no backup is retained. */
    public PrunePlan(List<Decision> decisions, List<String> warnings) {
        this(decisions, warnings, Map.of());
    }

    /** Keep or remove. */
    public enum Action {
        KEEP, REMOVE;

        /** {@code keep} or {@code remove}. */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The decision about one backup.
     *
     * @param id      the backup id
     * @param time    its time as the planner used it
     * @param kind    its kind
     * @param action  keep or remove
     * @param reasons why, e.g. {@code daily backup 2024-05-03 (1 of 7)}; never empty
     */
    public record Decision(String id, Instant time, PruneCandidate.Kind kind, Action action, List<String> reasons) {
        public Decision {
            Objects.requireNonNull(id, "id");
            reasons = List.copyOf(reasons);
        }

        /** Whether the backup is kept. */
        public boolean kept() {
            return action == Action.KEEP;
        }
    }

    /** Ids of the kept backups, oldest first. */
    public List<String> kept() {
        return decisions.stream().filter(Decision::kept).map(Decision::id).toList();
    }

    /** Ids of the backups to remove, oldest first. */
    public List<String> removed() {
        return decisions.stream().filter(d -> !d.kept()).map(Decision::id).toList();
    }

    /** The decision about {@code id}, if it was a candidate. */
    public Optional<Decision> decision(String id) {
        return decisions.stream().filter(d -> d.id().equals(id)).findFirst();
    }
}
