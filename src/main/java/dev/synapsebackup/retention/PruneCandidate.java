package dev.synapsebackup.retention;

import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * One backup as the prune planner sees it. Not a {@link BackupEntry}: the planner needs none of
 * the listing's size or metadata, and the kind and dependencies come from the manifests, read
 * only for the backups a plan keeps.
 *
 * @param id        the backup id
 * @param time      its creation time (the id's encoded time, else the object's last-modified time)
 * @param kind      what it is
 * @param dependsOn ids of other backups whose data objects its manifest refers to (empty for a
 *                  full or foreign backup)
 * @param retainedUntil until when the store retains it (S3 Object Lock), or null when not known to
 *                  be retained; the planner keeps it while that date is after "now"
 */
public record PruneCandidate(String id, Instant time, Kind kind, Set<String> dependsOn, Instant retainedUntil) {
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

    /** A candidate not known to be retained. */
    public PruneCandidate(String id, Instant time, Kind kind, Set<String> dependsOn) {
        this(id, time, kind, dependsOn, null);
    }

    /**
     * A backup of the listing, before its manifest is read: a complete backup counts as full
     * until its dependencies say otherwise.
     */
    static PruneCandidate of(BackupEntry e) {
        Kind kind = switch (e.status()) {
            case COMPLETE -> Kind.FULL;
            case FOREIGN -> Kind.FOREIGN;
            case UNFINISHED -> Kind.UNFINISHED;
        };
        return new PruneCandidate(e.id(), timeOf(e), kind, Set.of());
    }

    /** A backup's creation time: the id's encoded time, else the object's last-modified time. */
    static Instant timeOf(BackupEntry e) {
        return BackupId.timeOf(e.id()).orElse(e.lastModified());
    }

    /** This backup, found to need bytes from {@code dependsOn}. */
    PruneCandidate incremental(Set<String> dependsOn) {
        return new PruneCandidate(id, time, Kind.INCREMENTAL, dependsOn, retainedUntil);
    }

    /** This backup, found to be retained by the store until {@code until}. */
    PruneCandidate retained(Instant until) {
        return new PruneCandidate(id, time, kind, dependsOn, until);
    }
}
