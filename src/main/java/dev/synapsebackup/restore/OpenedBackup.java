package dev.synapsebackup.restore;

import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.DataObject;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * A backup opened for reading (verify, restore): its data object, and its decrypted manifest in a
 * temporary directory with what the manifest says read in one pass, so that later steps need not
 * parse it again for facts already known. The file list itself is not held: it is streamed from
 * {@code manifestFile} by whoever needs it. Closing removes the temporary directory.
 *
 * @param id           the backup's id
 * @param data         the backup's own data object
 * @param temp         a private temporary directory, removed by {@link #close()}
 * @param manifestFile the decrypted manifest, to stream its file records from; null without a manifest
 *                     (a backup made by another tool)
 * @param summary      everything the manifest says but its file list; null without a manifest
 * @param objects      the data objects the manifest refers to, the backup's own first; null without a manifest
 * @param skipped      entry names of the files the manifest lists as skipped
 */
record OpenedBackup(String id, ObjectInfo data, Path temp, Path manifestFile, ManifestSummary summary,
                    List<DataObject> objects, Set<String> skipped) implements AutoCloseable {

    /**
     * Finds backup {@code id} and fetches its manifest, if it has one, into a new temporary
     * directory (under {@code tempBase}, or the run's work directory if null).
     */
    static OpenedBackup open(Repository repo, String id, Opener opener, Path tempBase) throws IOException {
        ObjectInfo data = BackupReader.dataObject(repo, id);
        boolean hasManifest = BackupReader.hasManifest(repo, id);
        if (!hasManifest && data.metadata().containsKey(BackupId.FORMAT_METADATA)) {
            throw BackupReader.unfinished(id);
        }
        Path temp = BackupReader.tempDir(tempBase);
        try {
            if (!hasManifest) {
                return new OpenedBackup(id, data, temp, null, null, null, Set.of());
            }
            Path manifestFile = BackupReader.fetchManifest(repo, id, opener, temp);
            try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
                List<DataObject> objects = DataObject.of(it, id);
                ManifestSummary summary = it.summary();
                return new OpenedBackup(id, data, temp, manifestFile, summary, objects,
                        Collections.unmodifiableSet(BackupReader.skippedEntries(summary)));
            }
        } catch (IOException | RuntimeException e) {
            WorkDir.deleteTemporary(temp);
            throw e;
        }
    }

    /** Whether the backup has a manifest (one made by another tool has none). */
    boolean hasManifest() {
        return manifestFile != null;
    }

    /** A check of the backup's PostgreSQL dump, or null if it holds none (see {@link DumpCheck#of}). */
    DumpCheck dumpCheck() {
        return summary == null ? null : DumpCheck.of(summary);
    }

    @Override
    public void close() {
        WorkDir.deleteTemporary(temp);
    }
}
