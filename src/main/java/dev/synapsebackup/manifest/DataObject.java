package dev.synapsebackup.manifest;

import dev.synapsebackup.IntegrityException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A data object that holds files of a backup: an incremental backup's files are in its own object
 * and in those of earlier backups of its chain.
 *
 * @param backupId the backup whose data object it is
 * @param files    how many of the backup's files it holds
 * @param bytes    their total size
 */
public record DataObject(String backupId, long files, long bytes) {

    private DataObject plus(DataObject o) {
        return new DataObject(backupId, files + o.files, bytes + o.bytes);
    }

    /**
     * The data objects the manifest of backup {@code id} refers to: the backup's own first (even if it
     * holds no file), then the others newest first.
     */
    public static List<DataObject> of(Path manifestFile, String id) {
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            return of(it, id);
        } catch (IOException e) {
            throw new IntegrityException("cannot read the manifest of " + id + ": " + e.getMessage(), e);
        }
    }

    /** As {@link #of(Path, String)}, from the manifest's records (read to their end). */
    public static List<DataObject> of(Iterator<ManifestFile> files, String id) {
        Map<String, DataObject> others = new TreeMap<>(Comparator.reverseOrder());
        while (files.hasNext()) {
            ManifestFile f = files.next();
            String holder = f.backup() == null ? id : f.backup();
            others.merge(holder, new DataObject(holder, 1, f.size()), DataObject::plus);
        }
        List<DataObject> ordered = new ArrayList<>();
        DataObject own = others.remove(id);
        ordered.add(own == null ? new DataObject(id, 0, 0) : own);
        ordered.addAll(others.values());
        return ordered;
    }
}
