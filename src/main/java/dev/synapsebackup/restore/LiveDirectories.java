package dev.synapsebackup.restore;

import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestDirectory;
import dev.synapsebackup.manifest.ParentDirectories;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live directories above the restored paths: a missing one is created as it was at backup
 * time (owner, group and mode from its record), an existing one is never changed but compared
 * with its record. The directories created are removed again if the restore fails.
 */
final class LiveDirectories {
    private static final Logger LOG = LoggerFactory.getLogger(LiveDirectories.class);

    /**
     * Owner and mode of the directories above the units, by entry name: from the manifest
     * ({@code directories}), else from the archive's own directory entries (the charm's tar
     * has them), so that a directory this restore must create gets them.
     */
    private final Map<String, ManifestDirectory> recorded = new HashMap<>();
    /** Live directories this restore created, in creation order; removed again if it fails. */
    private final List<Path> created = new ArrayList<>();
    /** One line per directory created, and notes on those made without a record. */
    private final List<String> createdLines = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    /** Existing directories compared with their record already. */
    private final Set<Path> checked = new HashSet<>();
    /** Set once the swap succeeded: the created directories hold the restored data then. */
    private boolean keep;

    /** Records a directory's owner and mode (the manifest's record wins over the archive's entry). */
    void record(ManifestDirectory d, boolean replace) {
        if (replace) {
            recorded.put(d.path(), d);
        } else {
            recorded.putIfAbsent(d.path(), d);
        }
    }

    boolean isRecorded(String entryName) {
        return recorded.containsKey(entryName);
    }

    /**
     * Creates {@code dir} and its missing parents as they were at backup time: owner, group
     * and mode from their record; for a backup that records none, like the unit being
     * restored into it ({@code like}, an entry of it), and said so; a directory every system
     * has ({@link ParentDirectories#SURELY_EXISTING}) as root's {@code 0755}. One line per
     * directory created goes to {@link #createdLines()}.
     */
    void ensure(Path dir, TarReader.Entry like) throws IOException {
        List<Path> missing = new ArrayList<>();
        Path d0 = dir;
        for (; d0 != null && !Files.exists(d0, LinkOption.NOFOLLOW_LINKS); d0 = d0.getParent()) {
            missing.add(0, d0);
        }
        for (; d0 != null; d0 = d0.getParent()) {
            noteIfChanged(d0);
        }
        for (Path d : missing) {
            String name = Manifest.entryName(d);
            ManifestDirectory rec = recorded.get(name);
            String how = "";
            if (rec == null && ParentDirectories.SURELY_EXISTING.contains(name)) {
                rec = new ManifestDirectory(name, 0755, 0, 0, "root", "root", Instant.now());
            } else if (rec == null && like != null) {
                // Directory-like bits of the entry's mode: 0640 -> 0750, 0600 -> 0700.
                int mode = like.type() == TarReader.Type.DIRECTORY ? like.mode() & 07777
                        : (like.mode() & 0666) | ((like.mode() & 0444) >> 2);
                rec = new ManifestDirectory(name, mode, like.uid(), like.gid(), like.userName(), like.groupName(),
                        Instant.now());
                how = "/" + like.name();
            }
            Files.createDirectory(d);
            created.add(d);
            if (rec != null) {
                applyOwnerAndMode(d, rec);
            }
            Map<String, Object> a = Files.readAttributes(d, "unix:mode,uid,gid,owner,group", LinkOption.NOFOLLOW_LINKS);
            createdLines.add("create directory " + d + " (" + a.get("owner") + ":" + a.get("group") + " ("
                    + a.get("uid") + ":" + a.get("gid") + "), mode " + Manifest.octal4((Integer) a.get("mode") & 07777) + ")");
            if (!how.isEmpty()) {
                notes.add("the backup does not record the owner and mode of " + d + ": it was created owned"
                        + " like " + how + " (check it before starting Synapse)");
            }
        }
    }

    /**
     * An existing directory is never changed, but one whose owner or mode differs from the
     * backup's record (a new disk mounted in its place is root's) may keep Synapse from
     * writing: say so, once.
     */
    private void noteIfChanged(Path d) throws IOException {
        ManifestDirectory rec = recorded.get(Manifest.entryName(d));
        if (rec == null || !checked.add(d)) {
            return;
        }
        Map<String, Object> a = Files.readAttributes(d, "unix:mode,uid,gid,owner,group");
        if (((Integer) a.get("mode") & 07777) != rec.mode() || (Integer) a.get("uid") != rec.uid()
                || (Integer) a.get("gid") != rec.gid()) {
            notes.add(d + " is " + a.get("owner") + ":" + a.get("group") + " (" + a.get("uid") + ":" + a.get("gid")
                    + "), mode " + Manifest.octal4((Integer) a.get("mode") & 07777) + ", but was " + rec.describe()
                    + " when the backup was made; it was left as it is (chown/chmod it if Synapse cannot write there)");
        }
    }

    private static void applyOwnerAndMode(Path d, ManifestDirectory rec) throws IOException {
        try {
            Files.setAttribute(d, "unix:uid", rec.uid(), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(d, "unix:gid", rec.gid(), LinkOption.NOFOLLOW_LINKS);
        } catch (FileSystemException notRoot) {
            // only root can give a directory away; it stays ours then
        }
        // Never world-writable without the sticky bit, whatever a (crafted) record or charm tar says.
        int mode = rec.mode() & 07777;
        if ((mode & 01000) == 0) {
            mode &= ~0002;
        }
        Files.setAttribute(d, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    /** The missing directories above {@code lives}, as a restore would create them (for --dry-run). */
    List<String> planned(Collection<Path> lives) {
        Set<Path> missing = new TreeSet<>();
        for (Path live : lives) {
            for (Path d = live.getParent(); d != null && !Files.exists(d, LinkOption.NOFOLLOW_LINKS); d = d.getParent()) {
                missing.add(d);
            }
        }
        List<String> lines = new ArrayList<>();
        for (Path d : missing) {
            ManifestDirectory rec = recorded.get(Manifest.entryName(d));
            lines.add("create directory " + d + (rec != null ? " (" + rec.describe() + ")"
                    : " (not recorded in the backup: owned like what it holds)"));
        }
        return lines;
    }

    /** One line per directory created. */
    List<String> createdLines() {
        return createdLines;
    }

    /** Notes on directories created without a record, or found differing from theirs. */
    List<String> notes() {
        return notes;
    }

    /** The swap succeeded: the created directories hold the restored data and stay. */
    void keep() {
        keep = true;
    }

    /** Removes the directories this restore created (a failed restore), deepest first, if empty. */
    void removeCreated() {
        if (keep) {
            return;
        }
        for (int i = created.size() - 1; i >= 0; i--) {
            try {
                Files.deleteIfExists(created.get(i));
            } catch (IOException e) {
                LOG.warn("cannot remove the directory {} this restore created: {}", created.get(i), e.toString());
            }
        }
        created.clear();
    }
}
