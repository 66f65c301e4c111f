package dev.synapsebackup.archive;

import dev.synapsebackup.io.CountingOutputStream;
import dev.synapsebackup.io.Sha256;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.io.output.CloseShieldOutputStream;

/**
 * Writes a POSIX (PAX) tar that GNU tar extracts without a single warning: long names, non-ASCII
 * names and sizes over 8 GiB go into standard PAX records; no atime/ctime or vendor
 * (LIBARCHIVE.*) records are written. Entries carry the real permission bits, uid/gid, owner
 * names and mtime of the source.
 *
 * <p>Not thread-safe. {@link #close()} finishes the archive but never closes the target stream,
 * which belongs to the caller (it is usually an encryption stream that still needs finishing).
 */
public final class TarWriter implements Closeable {
    /** Result of {@link #addFile}: what was archived, and whether the file moved underneath. */
    public record AddResult(FileRecord record, boolean changedWhileReading) {
    }

    private static final int COPY_BUFFER = 1 << 20;
    private static final int TYPE_FILE = 0100000;
    private static final int TYPE_DIR = 0040000;

    private final CountingOutputStream counter;
    private final TarArchiveOutputStream tar;
    private final byte[] buffer = new byte[COPY_BUFFER];
    private final Map<Integer, String> userNames = new HashMap<>();
    private final Map<Integer, String> groupNames = new HashMap<>();
    private boolean finished;
    private boolean broken;

    /** Starts an archive on {@code out} (which stays open after {@link #close()}). */
    public TarWriter(OutputStream out) {
        counter = new CountingOutputStream(CloseShieldOutputStream.wrap(out));
        tar = new TarArchiveOutputStream(counter, StandardCharsets.UTF_8.name());
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
    }

    /**
     * Archives the regular file {@code source} as {@code entryName}. The size is taken from a
     * stat before reading and exactly that many bytes are written: a file that shrank meanwhile
     * is padded with zeros, one that grew is cut at the declared size; either is reported as
     * {@link AddResult#changedWhileReading()}, as is a change of size, mtime or ctime.
     *
     * @throws java.nio.file.NoSuchFileException the file vanished before it could be opened
     * @throws IOException {@code source} is not a regular file (a symlink is not followed), or
     *     reading or writing failed
     */
    public AddResult addFile(Path source, String entryName) throws IOException {
        checkOpen();
        Map<String, Object> before = stat(source);
        if (!Boolean.TRUE.equals(before.get("isRegularFile"))) {
            throw new IOException("not a regular file, cannot archive it: " + source);
        }
        long size = (Long) before.get("size");
        Instant mtime = mtimeOf(before);
        int mode = (Integer) before.get("mode") & 07777;
        int uid = (Integer) before.get("uid");
        int gid = (Integer) before.get("gid");

        // O_NOFOLLOW: a file swapped for a symlink after the stat is not followed
        try (InputStream in = Files.newInputStream(source, StandardOpenOption.READ,
                LinkOption.NOFOLLOW_LINKS)) {
            TarArchiveEntry entry = fileEntry(entryName, size, mode, mtime, uid, gid);
            setOwnerNames(entry, source, uid, gid);
            tar.putArchiveEntry(entry);
            broken = true; // until the entry is complete
            MessageDigest sha = Sha256.newDigest();
            long remaining = size;
            boolean shortRead = false;
            while (remaining > 0) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
                if (n < 0) {
                    shortRead = true;
                    break;
                }
                write(sha, n);
                remaining -= n;
            }
            if (shortRead) {
                java.util.Arrays.fill(buffer, (byte) 0);
                while (remaining > 0) {
                    int n = (int) Math.min(buffer.length, remaining);
                    write(sha, n);
                    remaining -= n;
                }
            }
            boolean grew = !shortRead && in.read() >= 0;
            tar.closeArchiveEntry();
            broken = false;
            boolean changed = shortRead || grew;
            try {
                Map<String, Object> after = stat(source);
                changed |= !Objects.equals(before.get("size"), after.get("size"))
                        || !Objects.equals(before.get("lastModifiedTime"), after.get("lastModifiedTime"))
                        || !Objects.equals(before.get("ctime"), after.get("ctime"));
            } catch (java.nio.file.NoSuchFileException e) {
                changed = true; // deleted while we read it
            }
            FileRecord rec = new FileRecord(entry.getName(), size, mtime, mode, uid, gid,
                    Sha256.hex(sha.digest()));
            return new AddResult(rec, changed);
        }
    }

    private void write(MessageDigest sha, int n) throws IOException {
        sha.update(buffer, 0, n);
        tar.write(buffer, 0, n);
    }

    /** Archives the directory {@code source} (the entry only, not its contents). */
    public FileRecord addDirectory(Path source, String entryName) throws IOException {
        checkOpen();
        Map<String, Object> attrs = stat(source);
        if (!Boolean.TRUE.equals(attrs.get("isDirectory"))) {
            throw new IOException("not a directory, cannot archive it as one: " + source);
        }
        Instant mtime = mtimeOf(attrs);
        int mode = (Integer) attrs.get("mode") & 07777;
        int uid = (Integer) attrs.get("uid");
        int gid = (Integer) attrs.get("gid");
        TarArchiveEntry entry = new TarArchiveEntry(dirName(entryName), TarConstants.LF_DIR);
        entry.setMode(TYPE_DIR | mode);
        entry.setLastModifiedTime(FileTime.from(mtime));
        entry.setUserId(uid);
        entry.setGroupId(gid);
        setOwnerNames(entry, source, uid, gid);
        tar.putArchiveEntry(entry);
        tar.closeArchiveEntry();
        return new FileRecord(stripSlash(entry.getName()), 0, mtime, mode, uid, gid, null);
    }

    /** Archives in-memory bytes (a manifest) as a regular file owned by the current process. */
    public FileRecord addBytes(String entryName, byte[] data, int mode, Instant mtime)
            throws IOException {
        return addStream(entryName, new java.io.ByteArrayInputStream(data), data.length, mode,
                mtime);
    }

    /**
     * Archives exactly {@code size} bytes from {@code data} as a regular file.
     *
     * @throws IOException {@code data} ended early (the archive is then unusable)
     */
    public FileRecord addStream(String entryName, InputStream data, long size, int mode,
            Instant mtime) throws IOException {
        checkOpen();
        if (size < 0) {
            throw new IllegalArgumentException("negative size for " + entryName);
        }
        int uid = currentId("uid");
        int gid = currentId("gid");
        TarArchiveEntry entry = fileEntry(entryName, size, mode & 07777, mtime, uid, gid);
        tar.putArchiveEntry(entry);
        broken = true; // until the entry is complete
        MessageDigest sha = Sha256.newDigest();
        long remaining = size;
        while (remaining > 0) {
            int n = data.read(buffer, 0, (int) Math.min(buffer.length, remaining));
            if (n < 0) {
                throw new IOException("stream for " + entryName + " ended after "
                        + (size - remaining) + " of " + size + " bytes");
            }
            write(sha, n);
            remaining -= n;
        }
        tar.closeArchiveEntry();
        broken = false;
        return new FileRecord(entry.getName(), size, mtime, mode & 07777, uid, gid,
                Sha256.hex(sha.digest()));
    }

    /** Writes the end-of-archive blocks and flushes; further adds are errors. */
    public void finish() throws IOException {
        if (broken) {
            return; // an entry was cut short: the archive is unusable, the caller discards it
        }
        if (!finished) {
            finished = true;
            tar.finish();
            tar.flush();
        }
    }

    /** Bytes written to the target so far. */
    public long bytesWritten() {
        return counter.count();
    }

    /**
     * Finishes the archive if not yet done; the target stream stays open. After a failed add
     * (an exception while an entry was being written) nothing more is written: the archive is
     * incomplete and must be discarded.
     */
    @Override
    public void close() throws IOException {
        finish();
        if (!broken) {
            tar.close(); // finish() has flushed; this closes only the CloseShieldOutputStream
        }
    }

    private void checkOpen() throws IOException {
        if (broken) {
            throw new IOException("tar archive is incomplete after an earlier failure");
        }
        if (finished) {
            throw new IOException("tar archive already finished");
        }
    }

    private static TarArchiveEntry fileEntry(String name, long size, int mode, Instant mtime,
            int uid, int gid) {
        if (name.isEmpty() || name.endsWith("/")) {
            throw new IllegalArgumentException("invalid file entry name: \"" + name + "\"");
        }
        TarArchiveEntry entry = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
        entry.setMode(TYPE_FILE | mode);
        entry.setSize(size);
        entry.setLastModifiedTime(FileTime.from(mtime));
        entry.setUserId(uid);
        entry.setGroupId(gid);
        return entry;
    }

    /**
     * The mtime as archived: microsecond precision, which Commons Compress writes into the PAX
     * "mtime" record exactly (it would round nanoseconds), so that records, archive and the
     * extracted file agree.
     */
    private static Instant mtimeOf(Map<String, Object> attrs) {
        return ((FileTime) attrs.get("lastModifiedTime")).toInstant().truncatedTo(ChronoUnit.MICROS);
    }

    /**
     * The attributes we use, named: "unix:*" would also resolve owner and group names, a passwd
     * and a group lookup per call (visible in profiles of create), and files are stat'ed twice.
     */
    private static Map<String, Object> stat(Path p) throws IOException {
        return Files.readAttributes(p, "unix:isRegularFile,isDirectory,size,lastModifiedTime,ctime,mode,uid,gid",
                LinkOption.NOFOLLOW_LINKS);
    }

    /** Owner and group names by uid/gid, looked up on the first file that has them. */
    private void setOwnerNames(TarArchiveEntry entry, Path source, int uid, int gid) throws IOException {
        String user = userNames.get(uid);
        String group = groupNames.get(gid);
        if (user == null || group == null) {
            Map<String, Object> names = Files.readAttributes(source, "unix:owner,group", LinkOption.NOFOLLOW_LINKS);
            if (user == null) {
                user = names.get("owner") instanceof UserPrincipal u ? u.getName() : "";
                userNames.put(uid, user);
            }
            if (group == null) {
                group = names.get("group") instanceof GroupPrincipal g ? g.getName() : "";
                groupNames.put(gid, group);
            }
        }
        // a uid without a passwd entry comes back as digits: leave the name empty as GNU tar does
        if (!user.isEmpty() && !isNumeric(user)) {
            entry.setUserName(user);
        }
        if (!group.isEmpty() && !isNumeric(group)) {
            entry.setGroupName(group);
        }
    }

    private static boolean isNumeric(String s) {
        return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
    }

    private static String dirName(String name) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException("empty directory entry name");
        }
        return name.endsWith("/") ? name : name + "/";
    }

    private static String stripSlash(String name) {
        return name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
    }

    private static int currentId(String which) {
        try {
            // /proc/self belongs to the process's effective uid/gid
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:" + which);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return 0;
        }
    }
}
