package dev.synapsebackup.archive;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.UnsafeEntryException;
import dev.synapsebackup.io.CountingInputStream;
import dev.synapsebackup.io.BulkReadInputStream;
import dev.synapsebackup.io.SourceTrackingInputStream;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Reads a tar archive (POSIX/PAX, GNU or ustar) entry by entry, streaming.
 *
 * <p>Names are normalised as GNU tar does on extraction: leading "/" and "./" are removed, as
 * are empty and "." components. A name with a ".." component, a NUL, or nothing left after
 * normalisation is refused with {@link UnsafeEntryException}. The archive root itself ("./" or
 * "/" as a directory entry, which {@code tar -C dir -cf x .} writes) is skipped.
 *
 * <p>When {@link #next()} reports the end of the archive, the source has been read to its end,
 * so an integrity check that runs at EOF (the OpenPGP MDC) has passed.
 *
 * <p>Malformed headers and truncated content raise {@link IntegrityException} naming the entry
 * and offset; an IOException of the underlying stream itself is passed on unchanged.
 */
public final class TarReader implements Closeable {
    /** What an entry is; only FILE and DIRECTORY are ever extracted. */
    public enum Type { FILE, DIRECTORY, SYMLINK, HARDLINK, CHAR_DEVICE, BLOCK_DEVICE, FIFO, OTHER }

    /** One archive entry; its content is readable until {@link TarReader#next()} is called. */
    public final class Entry {
        private final TarArchiveEntry raw;
        private final String name;
        private final Type type;
        private final long generation;

        Entry(TarArchiveEntry raw, String name, Type type, long generation) {
            this.raw = raw;
            this.name = name;
            this.type = type;
            this.generation = generation;
        }

        /** Normalised name: relative, no ".", "..", empty components or trailing "/". */
        public String name() {
            return name;
        }

        /** The name exactly as stored in the archive. */
        public String rawName() {
            return raw.getName();
        }

        public Type type() {
            return type;
        }

        /** Content size in bytes (0 for anything but a regular file). */
        public long size() {
            return type == Type.FILE ? raw.getSize() : 0;
        }

        /** Permission bits only (e.g. 0640). */
        public int mode() {
            return raw.getMode() & 07777;
        }

        public Instant mtime() {
            return raw.getLastModifiedTime().toInstant();
        }

        public int uid() {
            return (int) raw.getLongUserId();
        }

        public int gid() {
            return (int) raw.getLongGroupId();
        }

        /** Owner name as recorded (may be empty). */
        public String userName() {
            return raw.getUserName();
        }

        /** Group name as recorded (may be empty). */
        public String groupName() {
            return raw.getGroupName();
        }

        /** Link target for SYMLINK and HARDLINK entries, else empty. */
        public String linkName() {
            return raw.getLinkName();
        }

        /**
         * The entry's content (exactly {@link #size()} bytes). Closing it does not close the
         * archive. Truncation raises {@link IntegrityException}.
         */
        public InputStream content() {
            return new ContentStream(this);
        }
    }

    private final SourceTrackingInputStream source;
    private final CountingInputStream counted;
    private final TarArchiveInputStream tar;
    private long generation;
    private Entry current;
    private boolean drained;

    /** Reads the archive from {@code in}; {@link #close()} closes it. */
    public TarReader(InputStream in) {
        source = new SourceTrackingInputStream(in);
        counted = new CountingInputStream(new BufferedInputStream(source, 1 << 16));
        tar = new TarArchiveInputStream(counted, StandardCharsets.UTF_8.name());
    }

    /**
     * The next entry, or null at the end of the archive.
     *
     * @throws UnsafeEntryException the entry's name is unsafe (names it)
     * @throws IntegrityException the archive is corrupt at this point
     */
    public Entry next() throws IOException {
        generation++;
        while (true) {
            TarArchiveEntry raw;
            try {
                raw = tar.getNextEntry();
            } catch (IOException e) {
                throw translate(e, headerFailure());
            } catch (IllegalArgumentException e) {
                throw new IntegrityException(headerFailure() + ": " + e.getMessage(), e);
            }
            if (raw == null) {
                current = null;
                drain();
                return null;
            }
            Type type = typeOf(raw);
            String name = normalise(raw.getName());
            if (name.isEmpty() && type == Type.DIRECTORY && !raw.getName().isEmpty()) {
                continue; // "./" or "/": the extraction root itself
            }
            if (name.isEmpty()) {
                throw new UnsafeEntryException(raw.getName(), "empty name");
            }
            current = new Entry(raw, name, type, generation);
            return current;
        }
    }

    /** Names the header that failed: it is the 512-byte block read last. */
    private String headerFailure() {
        long offset = Math.max(0, counted.count() - 512);
        return "corrupt tar header at offset " + offset
                + (current == null ? "" : " (after entry \"" + current.name + "\")");
    }

    /**
     * Reads the source to its end after the end-of-archive blocks, so that a check that only
     * happens at EOF below (the OpenPGP MDC) always runs before the caller sees "end of archive".
     */
    private void drain() throws IOException {
        if (drained) {
            return;
        }
        byte[] skip = new byte[1 << 16];
        try {
            while (counted.read(skip) >= 0) {
                // discard record padding and anything after it
            }
        } catch (IOException e) {
            throw translate(e, "cannot read the end of the archive at offset " + counted.count());
        }
        drained = true;
    }

    /** The bytes consumed from the underlying stream so far. */
    public long bytesRead() {
        return counted.count();
    }

    /**
     * Normalises an entry name as GNU tar does and refuses unsafe ones.
     *
     * @return the normalised name, empty if nothing is left (the archive root)
     * @throws UnsafeEntryException a ".." component or a NUL character
     */
    public static String normalise(String rawName) {
        if (rawName.indexOf('\0') >= 0) {
            throw new UnsafeEntryException(rawName.replace('\0', '?'), "name contains a NUL character");
        }
        if (isNormal(rawName)) {
            return rawName; // the usual case (called twice per entry): no split and join
        }
        List<String> parts = new ArrayList<>();
        for (String part : rawName.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw new UnsafeEntryException(rawName, "name contains a \"..\" component");
            }
            parts.add(part);
        }
        return String.join("/", parts);
    }

    /** Whether {@code name} has no empty, "." or ".." component, i.e. normalises to itself. */
    private static boolean isNormal(String name) {
        int n = name.length();
        if (n == 0) {
            return false;
        }
        for (int start = 0; start <= n; ) {
            int end = name.indexOf('/', start);
            if (end < 0) {
                end = n;
            }
            int len = end - start;
            if (len == 0 || name.charAt(start) == '.' && (len == 1 || len == 2 && name.charAt(start + 1) == '.')) {
                return false;
            }
            start = end + 1;
        }
        return true;
    }

    private static Type typeOf(TarArchiveEntry e) {
        if (e.isSymbolicLink()) {
            return Type.SYMLINK;
        }
        if (e.isLink()) {
            return Type.HARDLINK;
        }
        if (e.isCharacterDevice()) {
            return Type.CHAR_DEVICE;
        }
        if (e.isBlockDevice()) {
            return Type.BLOCK_DEVICE;
        }
        if (e.isFIFO()) {
            return Type.FIFO;
        }
        if (e.isDirectory()) {
            return Type.DIRECTORY;
        }
        if (e.isFile() && !e.isGNUSparse() && !e.isPaxGNUSparse() && !e.isStarSparse()) {
            return Type.FILE;
        }
        return Type.OTHER;
    }

    private IOException translate(IOException e, String what) {
        if (source.failure() != null) {
            return e;
        }
        RuntimeException below = source.runtimeFailure();
        if (below != null) {
            throw below; // e.g. an integrity failure of the decryption below
        }
        if (e instanceof EOFException || String.valueOf(e.getMessage()).contains("runcated")) {
            throw new IntegrityException(what + ": the archive is truncated", e);
        }
        throw new IntegrityException(what + ": " + e.getMessage(), e);
    }

    @Override
    public void close() throws IOException {
        tar.close();
    }

    private final class ContentStream extends BulkReadInputStream {
        private final Entry entry;
        private long remaining;

        ContentStream(Entry entry) {
            this.entry = entry;
            this.remaining = entry.size();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (entry.generation != generation) {
                throw new IOException("entry \"" + entry.name + "\" is no longer current");
            }
            if (len == 0) {
                return 0;
            }
            if (remaining <= 0) {
                return -1;
            }
            int n;
            try {
                n = tar.read(b, off, (int) Math.min(len, remaining));
            } catch (IOException e) {
                throw translate(e, "cannot read content of \"" + entry.name + "\"");
            }
            if (n < 0) {
                throw new IntegrityException("content of \"" + entry.name + "\" is truncated: "
                        + remaining + " of " + entry.size() + " bytes missing");
            }
            remaining -= n;
            return n;
        }

        @Override
        public void close() {
            // the archive stays open for the next entry
        }
    }
}
