package dev.synapsebackup.create;

import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.PathOrder;
import dev.synapsebackup.synapse.MediaEntry;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Walks the parent's manifest records under the current media roots in step with the media walk;
 * both are in {@link PathOrder}, so finding a file's record is a merge of two sorted streams.
 */
final class ParentCursor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ParentCursor.class);

    private final Manifest.FileIterator files;
    private final List<String> roots;
    private ManifestFile current;

    private ParentCursor(Manifest.FileIterator files, List<String> roots) {
        this.files = files;
        this.roots = roots;
        advance();
    }

    /**
     * A cursor over {@code parent}'s records under {@code mediaRoots} (absolute); over none for a
     * full backup ({@code parent} null).
     */
    static ParentCursor open(Parent parent, List<Path> mediaRoots) {
        List<String> roots = mediaRoots.stream().map(r -> Manifest.entryName(r) + "/").toList();
        return new ParentCursor(parent == null ? null : Manifest.files(parent.manifestFile()), roots);
    }

    private void advance() {
        current = null;
        while (files != null && files.hasNext()) {
            ManifestFile f = files.next();
            for (String root : roots) {
                if (f.path().startsWith(root)) {
                    current = f;
                    return;
                }
            }
        }
    }

    /**
     * The parent's record of this file if it is unchanged, else null. Unchanged: same size and
     * mtime (content), and same mode and owner, which a restore applies from the record (a
     * {@code chown -R} of the media store changes no mtime). Calls come in {@link PathOrder}.
     */
    ManifestFile unchanged(String name, MediaEntry m) {
        while (current != null && PathOrder.compare(current.path(), name) < 0) {
            advance(); // in the parent, gone now
        }
        if (current == null || !current.path().equals(name)) {
            return null; // new
        }
        ManifestFile f = current;
        advance();
        Instant mtime = m.lastModified().toInstant().truncatedTo(ChronoUnit.MICROS);
        boolean same = f.size() == m.size() && f.mtime().equals(mtime)
                && (m.mode() < 0 || m.mode() == f.mode())
                && (m.uid() < 0 || m.uid() == f.uid())
                && (m.gid() < 0 || m.gid() == f.gid());
        return same ? f : null;
    }

    @Override
    public void close() {
        if (files != null) {
            try {
                files.close();
            } catch (IOException e) {
                LOG.debug("closing the parent manifest: {}", e.toString());
            }
        }
    }
}
