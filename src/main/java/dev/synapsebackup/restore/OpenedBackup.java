package dev.synapsebackup.restore;

import dev.synapsebackup.config.Secret;
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
 * {@link #manifestFile()} by whoever needs it. Closing removes the temporary directory.
 */
final class OpenedBackup implements AutoCloseable {
    private final String id;
    private final ObjectInfo data;
    private final Path temp;
    private final Path manifestFile;
    private final ManifestSummary summary;
    private final List<DataObject> objects;
    private final Set<String> skipped;

    private OpenedBackup(String id, ObjectInfo data, Path temp, Path manifestFile, ManifestSummary summary,
                         List<DataObject> objects) {
        this.id = id;
        this.data = data;
        this.temp = temp;
        this.manifestFile = manifestFile;
        this.summary = summary;
        this.objects = objects;
        this.skipped = summary == null ? Set.of() : Collections.unmodifiableSet(BackupReader.skippedEntries(summary));
    }

    /**
     * Finds backup {@code id} and fetches its manifest, if it has one, into a new temporary
     * directory (under {@code tempBase}, or the run's work directory if null).
     */
    static OpenedBackup open(Repository repo, String id, Secret passphrase, Path tempBase) throws IOException {
        ObjectInfo data = BackupReader.dataObject(repo, id);
        boolean hasManifest = BackupReader.hasManifest(repo, id);
        if (!hasManifest && data.metadata().containsKey(BackupId.FORMAT_METADATA)) {
            throw BackupReader.unfinished(id);
        }
        Path temp = BackupReader.tempDir(tempBase);
        try {
            if (!hasManifest) {
                return new OpenedBackup(id, data, temp, null, null, null);
            }
            Path manifestFile = BackupReader.fetchManifest(repo, id, passphrase, temp);
            try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
                List<DataObject> objects = DataObject.of(it, id);
                return new OpenedBackup(id, data, temp, manifestFile, it.summary(), objects);
            }
        } catch (IOException | RuntimeException e) {
            WorkDir.deleteTemporary(temp);
            throw e;
        }
    }

    String id() {
        return id;
    }

    /** The backup's own data object. */
    ObjectInfo data() {
        return data;
    }

    /** A private temporary directory, removed by {@link #close()}. */
    Path temp() {
        return temp;
    }

    /** Whether the backup has a manifest (one made by another tool has none). */
    boolean hasManifest() {
        return manifestFile != null;
    }

    /** The decrypted manifest, to stream its file records from; null without a manifest. */
    Path manifestFile() {
        return manifestFile;
    }

    /** Everything the manifest says but its file list; null without a manifest. */
    ManifestSummary summary() {
        return summary;
    }

    /** The data objects the manifest refers to, the backup's own first; null without a manifest. */
    List<DataObject> objects() {
        return objects;
    }

    /** Entry names of the files the manifest lists as skipped. */
    Set<String> skipped() {
        return skipped;
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
