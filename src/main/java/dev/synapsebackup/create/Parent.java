package dev.synapsebackup.create;

import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.repository.BackupId;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The backup an incremental one builds on, as {@link ParentChoice} read it from its manifest in
 * one pass.
 *
 * @param id           its id
 * @param manifestFile its decrypted manifest, in the run's work directory (the media walk reads
 *                     its file records again, in step with the walk)
 * @param summary      its manifest's summary
 * @param objects      the data objects its files' bytes are in (its own included), in id order
 * @param database     its record of the SQLite database's snapshot, or null
 */
record Parent(String id, Path manifestFile, ManifestSummary summary, SortedSet<String> objects, ManifestFile database) {
    Parent {
        objects = Collections.unmodifiableSortedSet(new TreeSet<>(objects));
    }

    /** {@code previous}, a record of this parent's manifest, naming the object that holds its bytes. */
    ManifestFile holding(ManifestFile previous) {
        return previous.backup() != null ? previous : new ManifestFile(previous.path(), previous.size(),
                previous.mtime(), previous.mode(), previous.uid(), previous.gid(), previous.sha256(), id);
    }

    /** Its SQLite database record, or null if it recorded another engine or none. */
    DatabaseRecord.Sqlite sqliteRecord() {
        return summary.database() instanceof DatabaseRecord.Sqlite s ? s : null;
    }

    /** When the full backup of its chain started. */
    Instant fullStart() {
        return BackupId.timeOf(summary.fullBackup()).orElse(summary.created());
    }
}
