package dev.synapsebackup.repository;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.SynapseBackupException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup-level operations of {@link Repository}, written once over the object-level ones so
 * that the S3 and local repositories follow exactly the same layout rules (SPEC §3).
 */
public abstract class AbstractRepository implements Repository {
    private static final Logger LOG = LoggerFactory.getLogger(AbstractRepository.class);

    @Override
    public boolean canUseBucket() {
        try {
            checkAccess();
            return true;
        } catch (SynapseBackupException e) {
            LOG.warn("{}", e.getMessage());
            return false;
        }
    }

    @Override
    public boolean exists(String backupId) {
        if (!BackupId.isPlausible(backupId)) {
            return false;
        }
        try {
            return stat(backupId).isPresent();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check whether " + backupId + " exists in " + location(), e);
        }
    }

    @Override
    public List<BackupEntry> list() {
        List<ObjectInfo> data = new ArrayList<>();
        Set<String> manifests = new HashSet<>();
        try {
            listObjects(o -> {
                String key = o.key();
                if (key.endsWith(BackupId.MANIFEST_SUFFIX)) {
                    manifests.add(key.substring(0, key.length() - BackupId.MANIFEST_SUFFIX.length()));
                } else if (!BackupId.isReserved(key)) {
                    data.add(o);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + location(), e);
        }
        List<BackupEntry> result = new ArrayList<>(data.size());
        for (ObjectInfo o : data) {
            BackupEntry.Status status;
            if (manifests.contains(o.key())) {
                status = BackupEntry.Status.COMPLETE;
            } else {
                status = hasFormatMarker(o) ? BackupEntry.Status.UNFINISHED : BackupEntry.Status.FOREIGN;
            }
            result.add(new BackupEntry(o.key(), o.lastModified(), o.size(), status));
        }
        result.sort(Comparator.comparing(BackupEntry::lastModified).thenComparing(BackupEntry::id));
        return result;
    }

    private boolean hasFormatMarker(ObjectInfo listed) {
        if (listed.metadata().containsKey(BackupId.FORMAT_METADATA)) {
            return true;
        }
        try {
            Optional<ObjectInfo> full = stat(listed.key());
            return full.isPresent() && full.get().metadata().containsKey(BackupId.FORMAT_METADATA);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read metadata of " + listed.key() + " in " + location(), e);
        }
    }

    @Override
    public void delete(String backupId) {
        if (!exists(backupId)) {
            throw new BackupNotFoundException(backupId);
        }
        try {
            // Manifest first: a backup without its commit marker is "unfinished", never a
            // manifest pointing at missing data.
            deleteObject(BackupId.manifestKey(backupId));
            deleteObject(backupId);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + backupId + " from " + location(), e);
        }
    }
}
