package dev.synapsebackup.archive;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.UnsafeEntryException;
import dev.synapsebackup.io.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Extracts tar entries below a destination root that it never leaves.
 *
 * <p>Only regular files and directories are written. Refused, with {@link UnsafeEntryException}
 * naming the entry and nothing written for it: symlinks, hard links, devices, FIFOs, names with
 * "..", names the {@code allowedPath} predicate rejects, and any entry whose parent resolves
 * through a symlink (or a non-directory) inside the destination. Leading "/" is stripped first,
 * so "/etc/passwd" lands at {@code root/etc/passwd}, as with {@code tar -x -C root}.
 *
 * <p>Files get their exact permission bits (as {@code tar -xp}; no umask), then their mtime;
 * uid/gid only when running as root. An existing file at the target is unlinked first (as GNU
 * tar does) and the new one created with CREATE_NEW, so nothing is ever written through a link.
 * Directories are created owner-writable; their recorded mode and mtime are applied by
 * {@link #finish()}, deepest first, so read-only directories cannot block their own contents.
 */
public final class SafeExtractor {
    /** Directory entries stay private until finish() applies their recorded mode. */
    private static final Set<PosixFilePermission> DIR_WORKING_PERMS =
            PosixFilePermissions.fromString("rwx------");
    /** Parents the archive has no entry for: what GNU tar gives them under umask 022. */
    private static final Set<PosixFilePermission> IMPLICIT_DIR_PERMS =
            PosixFilePermissions.fromString("rwxr-xr-x");
    private static final int COPY_BUFFER = 1 << 20;

    private record PendingDir(Path path, int mode, Instant mtime, int uid, int gid) {
    }

    private final Path root;
    private final Predicate<String> allowedPath;
    private final boolean asRoot;
    /**
     * Directories whose mode and mtime are still to be applied: the chain of ancestors of the
     * entry being written (archives list each directory's subtree right after it), so memory
     * stays bounded by the tree's depth, not its size.
     */
    private final java.util.ArrayDeque<PendingDir> pendingDirs = new java.util.ArrayDeque<>();
    /** Left directories whose mode would stop us writing into them: applied only by finish(). */
    private final List<PendingDir> closedLate = new ArrayList<>();
    private final byte[] buffer = new byte[COPY_BUFFER];
    /** The parent directories of the last entry, checked: names and paths, outermost first. */
    private final List<String> checkedNames = new ArrayList<>();
    private final List<Path> checkedDirs = new ArrayList<>();
    private final int ownUid = currentId("uid");
    /** This process's umask, -1 if unknown: a file created with bits it keeps needs no chmod. */
    private final int umask = currentUmask();
    /** The access time every extracted entry gets: when the extraction began (as tar gives "now"). */
    private final FileTime atime = FileTime.from(Instant.now());

    /** Extracts below {@code root} (created if missing), allowing every safe path. */
    public SafeExtractor(Path root) throws IOException {
        this(root, p -> true);
    }

    /**
     * Extracts below {@code root} (created if missing); entries whose normalised name
     * {@code allowedPath} rejects are refused.
     */
    public SafeExtractor(Path root, Predicate<String> allowedPath) throws IOException {
        Files.createDirectories(root);
        this.root = root.toRealPath();
        this.allowedPath = allowedPath;
        this.asRoot = ownUid == 0;
    }

    /** The (real) destination root. */
    public Path root() {
        return root;
    }

    /**
     * Extracts one entry: writes a regular file (content hashed as it is written) or creates a
     * directory.
     *
     * @return the record of what was written (sha256 null for a directory)
     * @throws UnsafeEntryException the entry is refused; nothing was written for it
     * @throws IntegrityException the entry's content is truncated (the partial file is removed)
     */
    public FileRecord extract(TarReader.Entry e) throws IOException {
        String name = TarReader.normalise(e.rawName());
        if (name.isEmpty()) {
            throw new UnsafeEntryException(e.rawName(), "empty name");
        }
        switch (e.type()) {
            case FILE, DIRECTORY -> {
                // the only kinds we write
            }
            case SYMLINK -> throw new UnsafeEntryException(e.rawName(),
                    "symbolic links are not restored (target \"" + e.linkName() + "\")");
            case HARDLINK -> throw new UnsafeEntryException(e.rawName(),
                    "hard links are not restored (target \"" + e.linkName() + "\")");
            case CHAR_DEVICE, BLOCK_DEVICE -> throw new UnsafeEntryException(e.rawName(),
                    "device files are not restored");
            case FIFO -> throw new UnsafeEntryException(e.rawName(), "FIFOs are not restored");
            default -> throw new UnsafeEntryException(e.rawName(),
                    "unsupported entry type (only regular files and directories are restored)");
        }
        if (!allowedPath.test(name)) {
            throw new UnsafeEntryException(e.rawName(), "outside the paths this restore may write");
        }
        String[] parts = name.split("/");
        Path parent = ensureParents(e.rawName(), parts);
        Path target = parent.resolve(parts[parts.length - 1]);
        if (!target.normalize().startsWith(root)) {
            throw new UnsafeEntryException(e.rawName(), "resolves outside the destination");
        }
        settleDirectoriesNotContaining(target);
        if (e.type() != TarReader.Type.DIRECTORY) {
            return extractFile(e, name, target);
        }
        FileRecord rec = extractDirectory(e, name, target);
        // The next entries are usually inside it: it is a real directory now, no need to stat it again.
        checkedNames.add(parts[parts.length - 1]);
        checkedDirs.add(target);
        return rec;
    }

    /**
     * Extracts a directory entry unless that directory exists already in the destination (then
     * the entry that made it wins). Used for directories taken from an older object of an
     * incremental chain.
     *
     * @return whether the entry was extracted
     */
    public boolean extractDirectoryIfAbsent(TarReader.Entry e) throws IOException {
        if (e.type() != TarReader.Type.DIRECTORY) {
            throw new IllegalArgumentException("not a directory entry: " + e.rawName());
        }
        String name = TarReader.normalise(e.rawName());
        if (!name.isEmpty() && attrs(root.resolve(name)) != null) {
            return false;
        }
        extract(e); // validates the name as for any entry
        return true;
    }

    /** Applies the recorded directory modes and mtimes, deepest first. Call once at the end. */
    public void finish() throws IOException {
        while (!pendingDirs.isEmpty()) {
            apply(pendingDirs.pollLast());
        }
        closedLate.sort(Comparator.comparingInt((PendingDir d) -> d.path.getNameCount()).reversed());
        for (PendingDir d : closedLate) {
            apply(d);
        }
        closedLate.clear();
    }

    /**
     * Applies the attributes of the directories that the archive has left (those that do not
     * contain {@code target}). An out-of-order archive that comes back into a left directory
     * still extracts (only that directory's mtime ends up as of the later write); a directory
     * whose mode denies its owner writing waits for {@link #finish()}.
     */
    private void settleDirectoriesNotContaining(Path target) throws IOException {
        while (!pendingDirs.isEmpty() && !target.startsWith(pendingDirs.peekLast().path)) {
            PendingDir d = pendingDirs.pollLast();
            if ((d.mode & 0300) != 0300) {
                closedLate.add(d);
            } else {
                apply(d);
            }
        }
    }

    private void apply(PendingDir d) throws IOException {
        Map<String, Object> a = Files.readAttributes(d.path, "unix:isDirectory,mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
        if (!(Boolean) a.get("isDirectory")) {
            return; // replaced meanwhile: never follow a link to apply attributes
        }
        // Each attribute is set only where it differs (one stat instead of up to three calls).
        if (asRoot) {
            chownWhereDifferent(d.path, a, d.uid, d.gid);
        }
        if (((Integer) a.get("mode") & 07777) != d.mode) {
            Files.setAttribute(d.path, "unix:mode", d.mode, LinkOption.NOFOLLOW_LINKS);
        }
        setMtime(d.path, d.mtime);
    }

    /** Sets the mtime (and {@link #atime}) without following a link, as {@code Files.setLastModifiedTime} would. */
    private void setMtime(Path p, Instant mtime) throws IOException {
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(FileTime.from(mtime), atime, null);
    }

    /**
     * Creates missing parent directories, refusing any that is a symlink or not a directory.
     * The leading directories this entry shares with the previous one were checked already and
     * are not checked again: nothing but this extractor writes below the root, and it never turns
     * a directory into anything else (a file entry over a directory is refused). That saves a
     * {@code stat} per path component per file.
     */
    private Path ensureParents(String rawName, String[] parts) throws IOException {
        int depth = parts.length - 1;
        int common = 0;
        while (common < depth && common < checkedNames.size() && parts[common].equals(checkedNames.get(common))) {
            common++;
        }
        while (checkedNames.size() > common) {
            checkedNames.remove(checkedNames.size() - 1);
            checkedDirs.remove(checkedDirs.size() - 1);
        }
        Path dir = common == 0 ? root : checkedDirs.get(common - 1);
        for (int i = common; i < depth; i++) {
            dir = dir.resolve(parts[i]);
            BasicFileAttributes a = attrs(dir);
            if (a == null) {
                try {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(IMPLICIT_DIR_PERMS));
                } catch (FileAlreadyExistsException raced) {
                    a = attrs(dir);
                }
            }
            if (a != null && a.isSymbolicLink()) {
                throw new UnsafeEntryException(rawName, "parent \"" + root.relativize(dir)
                        + "\" is a symbolic link in the destination");
            }
            if (a != null && !a.isDirectory()) {
                throw new UnsafeEntryException(rawName, "parent \"" + root.relativize(dir)
                        + "\" exists in the destination and is not a directory");
            }
            checkedNames.add(parts[i]);
            checkedDirs.add(dir);
        }
        return dir;
    }

    private FileRecord extractDirectory(TarReader.Entry e, String name, Path target)
            throws IOException {
        // mkdir first: in a fresh destination it succeeds, and on anything in the way (a link
        // included: mkdir never follows one) it fails, and only then is the thing looked at.
        BasicFileAttributes a = null;
        try {
            Files.createDirectory(target, PosixFilePermissions.asFileAttribute(DIR_WORKING_PERMS));
        } catch (FileAlreadyExistsException exists) {
            a = attrs(target);
            if (a == null) {
                throw new IOException("directory " + target + " vanished while being extracted", exists);
            }
        }
        if (a == null) {
            // created
        } else if (a.isSymbolicLink() || !a.isDirectory()) {
            throw new UnsafeEntryException(e.rawName(),
                    "exists in the destination and is not a directory");
        } else {
            // make sure we can still write its contents; the real mode comes in finish()
            Files.setAttribute(target, "unix:mode",
                    ((Integer) Files.getAttribute(target, "unix:mode", LinkOption.NOFOLLOW_LINKS)
                            & 07777) | 0700, LinkOption.NOFOLLOW_LINKS);
        }
        pendingDirs.add(new PendingDir(target, e.mode(), e.mtime(), e.uid(), e.gid()));
        return new FileRecord(name, 0, e.mtime(), e.mode(), e.uid(), e.gid(), null);
    }

    private FileRecord extractFile(TarReader.Entry e, String name, Path target)
            throws IOException {
        // Created with its permission bits; when the umask keeps them all (and there are no
        // setuid/setgid/sticky bits, which a chown would clear), a stat usually shows them exact
        // and no chmod is needed (a default ACL on the directory can still mask them).
        int perms = e.mode() & 0777;
        boolean exactAtCreate = umask >= 0 && (e.mode() & 07000) == 0 && (perms & umask) == 0;
        MessageDigest sha = Sha256.newDigest();
        long size = e.size();
        OutputStream created = createNew(e, target, perms); // from here on the file is ours
        boolean done = false;
        try {
            try (OutputStream out = created; InputStream in = e.content()) {
                long remaining = size;
                while (remaining > 0) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
                    if (n < 0) {
                        throw new IntegrityException("content of \"" + e.rawName() + "\" is truncated");
                    }
                    sha.update(buffer, 0, n);
                    out.write(buffer, 0, n);
                    remaining -= n;
                }
            }
            // One stat gives what the owner and mode checks need (its group may come from a
            // setgid parent); a chown that clears setuid/setgid bits is followed by the chmod,
            // as such modes are never exact at creation.
            Map<String, Object> a = asRoot || exactAtCreate
                    ? Files.readAttributes(target, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS) : null;
            if (asRoot) {
                chownWhereDifferent(target, a, e.uid(), e.gid());
            }
            if (!exactAtCreate || ((Integer) a.get("mode") & 07777) != e.mode()) {
                Files.setAttribute(target, "unix:mode", e.mode(), LinkOption.NOFOLLOW_LINKS);
            }
            setMtime(target, e.mtime());
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(target);
            }
        }
        return new FileRecord(name, size, e.mtime(), e.mode(), e.uid(), e.gid(),
                Sha256.hex(sha.digest()));
    }

    /**
     * Opens a new file for writing, never through a link. Something in the way (a file or a link,
     * which O_EXCL never follows) is unlinked first, as GNU tar does; a directory is refused.
     */
    private static OutputStream createNew(TarReader.Entry e, Path target, int perms) throws IOException {
        var attr = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(rwx(perms)));
        for (int attempt = 0; ; attempt++) {
            try {
                return java.nio.channels.Channels.newOutputStream(Files.newByteChannel(target,
                        Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
                        attr));
            } catch (FileAlreadyExistsException exists) {
                BasicFileAttributes a = attrs(target);
                if (a != null && a.isDirectory()) {
                    throw new UnsafeEntryException(e.rawName(), "a directory of that name exists in the destination");
                }
                if (attempt > 0) {
                    throw exists; // something keeps putting it back
                }
                Files.deleteIfExists(target); // unlinks a file or a link itself, never its target
            }
        }
    }

    /** {@code "rwxr-x---"} for 0750. */
    private static String rwx(int perms) {
        char[] c = "rwxrwxrwx".toCharArray();
        for (int i = 0; i < 9; i++) {
            if ((perms & (1 << (8 - i))) == 0) {
                c[i] = '-';
            }
        }
        return new String(c);
    }

    /** The umask from /proc/self/status (Linux 4.7+), -1 if it cannot be read. */
    private static int currentUmask() {
        try (var lines = Files.lines(Path.of("/proc/self/status"))) {
            return lines.filter(l -> l.startsWith("Umask:")).findFirst()
                    .map(l -> Integer.parseInt(l.substring(6).trim(), 8)).orElse(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Sets the uid and gid that differ from those in {@code current} (a "unix:uid,gid" read). */
    private static void chownWhereDifferent(Path p, Map<String, Object> current, int uid, int gid) throws IOException {
        if ((Integer) current.get("uid") != uid) {
            Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        }
        if ((Integer) current.get("gid") != gid) {
            Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        }
    }

    private static BasicFileAttributes attrs(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** This process's {@code uid} or {@code gid} (the owner of the files it creates), -1 if unknown. */
    private static int currentId(String which) {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:" + which);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return -1;
        }
    }
}
