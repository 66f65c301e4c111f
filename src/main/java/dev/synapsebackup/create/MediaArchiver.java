package dev.synapsebackup.create;

import dev.synapsebackup.io.ReadAheadIterator;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.synapse.MediaEntry;
import dev.synapsebackup.synapse.SynapseSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The media part of the archive: walks the media store and archives each file that is new or
 * changed since the parent ({@link ParentCursor}), listing the others as the parent's, with the
 * directories {@link MediaDirectories} picks. A full backup (no parent) archives everything.
 */
final class MediaArchiver {
    /** Entries per batch the walk hands over, and batches it may run ahead. */
    private static final int WALK_BATCH = 128;
    private static final int WALK_BATCHES_AHEAD = 4;

    private MediaArchiver() {
    }

    /**
     * Archives the media of {@code sources} into {@code archive}.
     *
     * @param parent the parent of an incremental backup, or null
     */
    static void archive(SynapseSources sources, Parent parent, ArchivePipeline archive) throws IOException {
        MediaDirectories dirs = new MediaDirectories(archive.tar(), parent == null ? null : parent.fullStart());
        // A media root may be a symbolic link (local_content on another disk). The walk follows
        // it, and so does its directory entry: the attributes of the directory it points to,
        // under the root's own name.
        List<Path> roots = sources.mediaRoots().stream().map(r -> r.toAbsolutePath().normalize()).toList();
        Map<Path, Path> linkedRoots = new HashMap<>();
        for (Path a : roots) {
            if (Files.isSymbolicLink(a)) {
                linkedRoots.put(a, a.toRealPath());
            }
        }
        // The walk (a readdir and an lstat per entry) runs on its own thread while an
        // incremental's main thread is busy with the manifests. At most ~800 entries ahead: the
        // lstat that decides whether a file changed stays close to the moment it is decided.
        try (ParentCursor cursor = ParentCursor.open(parent, roots);
             ReadAheadIterator<MediaEntry> it = new ReadAheadIterator<>(sources.mediaIterator(), WALK_BATCH,
                     WALK_BATCHES_AHEAD, "synapse-backup-walk")) {
            while (it.hasNext()) {
                MediaEntry m = it.next();
                Path p = m.path().toAbsolutePath().normalize();
                String name = Manifest.entryName(p);
                if (m.isDirectory()) {
                    dirs.directory(linkedRoots.getOrDefault(p, p), name, m.ctime());
                    continue;
                }
                ManifestFile same = cursor.unchanged(name, m);
                dirs.file(name, same == null);
                if (same != null) {
                    archive.reuse(same);
                } else {
                    archive.add(p, name);
                }
            }
        }
        dirs.finish();
    }
}
