package dev.synapsebackup.restore;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Checks, before anything is written, that each destination filesystem has room for what goes there. */
final class SpaceCheck {
    /** Free space kept in reserve on each destination filesystem. */
    private static final long SPACE_MARGIN = 64L << 20;

    private final Map<FileStore, Long> need = new HashMap<>();
    private final Map<FileStore, Path> example = new HashMap<>();

    private SpaceCheck() {
    }

    /**
     * Refuses the restore unless there is room: per staging directory's filesystem, for the files
     * of the manifest each unit receives; else {@code total} bytes where the restore writes.
     */
    static void check(RestoreLayout layout, Path manifestFile, long total) throws IOException {
        SpaceCheck c = new SpaceCheck();
        if (manifestFile != null && layout.target == null) {
            Map<Path, FileStore> storeOfStaging = new HashMap<>();
            try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
                while (it.hasNext()) {
                    ManifestFile f = it.next();
                    RestoreLayout.Unit u = layout.unitOf(f.path());
                    if (u == null) {
                        continue; // refused later, with the entry's name
                    }
                    Path staging = layout.stagingDirFor(u.live());
                    FileStore fs = storeOfStaging.get(staging);
                    if (fs == null) {
                        fs = store(staging);
                        storeOfStaging.put(staging, fs);
                    }
                    c.add(fs, staging, f.size());
                }
            }
        } else {
            Path where = layout.target != null ? layout.target : layout.anyStagingDir();
            c.add(store(where), where, total);
        }
        c.refuseShortage();
    }

    private void add(FileStore fs, Path where, long bytes) {
        need.merge(fs, bytes, Long::sum);
        example.putIfAbsent(fs, where);
    }

    private void refuseShortage() throws IOException {
        for (Map.Entry<FileStore, Long> n : need.entrySet()) {
            long free = n.getKey().getUsableSpace();
            long required = n.getValue() + SPACE_MARGIN;
            if (free < required) {
                throw new SynapseBackupException("not enough free space for the restore on the filesystem of "
                        + existingAncestor(example.get(n.getKey())) + ": " + required + " bytes needed (with a "
                        + (SPACE_MARGIN >> 20) + " MiB margin), " + free + " available; nothing was changed");
            }
        }
    }

    private static FileStore store(Path p) throws IOException {
        return Files.getFileStore(existingAncestor(p));
    }

    static Path existingAncestor(Path p) {
        Path a = p.toAbsolutePath();
        while (a != null && !Files.exists(a, LinkOption.NOFOLLOW_LINKS)) {
            a = a.getParent();
        }
        return a == null ? Path.of("/") : a;
    }
}
