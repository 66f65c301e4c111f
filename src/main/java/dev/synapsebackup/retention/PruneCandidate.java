package dev.synapsebackup.retention;

import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * One backup as the prune planner sees it.
 *
 * @param id        the backup id
 * @param time      its creation time (the id's encoded time, else the object's last-modified time)
 * @param kind      what it is
 * @param dependsOn ids of other backups whose data objects its manifest refers to (empty for a
 *                  full or foreign backup)
 */
public record PruneCandidate(String id, Instant time, Kind kind, Set<String> dependsOn) {
    /** What a backup is, as far as retention is concerned. */
    public enum Kind {
        /** Our complete backup holding all its bytes. */
        FULL,
        /** Our complete backup that refers to bytes in other backups. */
        INCREMENTAL,
        /** Made by another tool (the Synapse charm): no manifest, counts like a full backup. */
        FOREIGN,
        /** Ours, but its run died before the manifest was written. */
        UNFINISHED
    }

    public PruneCandidate {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(kind, "kind");
        dependsOn = dependsOn == null ? Set.of() : Set.copyOf(dependsOn);
    }
}
