package dev.synapsebackup.create;

import dev.synapsebackup.archive.TarWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;

/**
 * Decides which media directories a backup's archive holds, as the media walk enters them
 * (FORMAT.md §5).
 *
 * <p>A full backup holds every directory. An incremental one holds a directory only when its
 * content may differ from the chain's full backup: its ctime (changed by any chmod, chown,
 * rename, added or removed entry) is not older than the full backup's start; it is an ancestor
 * of a file this archive holds; or it is empty. Any other directory is exactly as the full
 * backup archived it, and a restore takes it from there. Without this, every incremental would
 * carry an entry per media directory (tens of thousands on a large server).
 *
 * <p>Directories are emitted lazily, ancestors first, so that an archive always lists a
 * directory before anything inside it. Memory: one entry per level of the current path.
 */
final class MediaDirectories {
    /** Slack for coarse file-system timestamps between the full backup's clock and the ctimes. */
    static final long CTIME_SLACK_SECONDS = 2;

    private final TarWriter tar;
    private final Instant changedSince;
    private final Deque<Open> open = new ArrayDeque<>();

    private static final class Open {
        final Path path;
        final String name;
        boolean emitted;
        boolean hasChildren;

        Open(Path path, String name) {
            this.path = path;
            this.name = name;
        }
    }

    /**
     * @param tar          where directory entries go
     * @param changedSince the start of the chain's full backup, or null for a full backup (every
     *                     directory is archived)
     */
    MediaDirectories(TarWriter tar, Instant changedSince) {
        this.tar = tar;
        this.changedSince = changedSince == null ? null : changedSince.minusSeconds(CTIME_SLACK_SECONDS);
    }

    /**
     * The walk reached directory {@code dir}, tar entry name {@code name}, whose ctime the walk
     * read (null if it could not: it is then read here).
     */
    void directory(Path dir, String name, FileTime ctime) throws IOException {
        leaveUnless(name);
        Open d = new Open(dir, name);
        open.push(d);
        if (changedSince == null || changedSinceFull(dir, ctime)) {
            emitOpen();
        }
    }

    /** The walk reached a file; {@code archived} says whether the archive will hold it. */
    void file(String name, boolean archived) throws IOException {
        leaveUnless(name);
        if (archived) {
            emitOpen();
        }
    }

    /** The walk ended: empty directories still open are archived. */
    void finish() throws IOException {
        leaveUnless(null);
    }

    private boolean changedSinceFull(Path dir, FileTime walkCtime) throws IOException {
        try {
            FileTime ctime = walkCtime != null ? walkCtime
                    : (FileTime) Files.getAttribute(dir, "unix:ctime", LinkOption.NOFOLLOW_LINKS);
            return !ctime.toInstant().isBefore(changedSince);
        } catch (NoSuchFileException e) {
            return false; // gone: nothing to restore
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return true; // no ctime on this file system: archive it, as a full backup would
        }
    }

    /** Closes the open directories that do not contain {@code name} (all, for null). */
    private void leaveUnless(String name) throws IOException {
        while (!open.isEmpty() && (name == null || !name.startsWith(open.peek().name + "/"))) {
            Open d = open.pop();
            if (!d.emitted && !d.hasChildren) {
                open.push(d);
                emitOpen(); // an empty directory: nothing else would bring it back
                open.pop();
            }
        }
        if (!open.isEmpty()) {
            open.peek().hasChildren = true;
        }
    }

    /** Archives the open directories not archived yet, outermost first. */
    private void emitOpen() throws IOException {
        for (Iterator<Open> it = open.descendingIterator(); it.hasNext(); ) {
            Open d = it.next();
            if (!d.emitted) {
                d.emitted = true;
                try {
                    tar.addDirectory(d.path, d.name);
                } catch (NoSuchFileException e) {
                    // deleted meanwhile: nothing to keep
                }
            }
        }
    }
}
