package dev.synapsebackup.restore;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.Progress;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.io.CountingInputStream;
import dev.synapsebackup.io.LookAheadIterator;
import dev.synapsebackup.io.Metered;
import dev.synapsebackup.io.ReadAheadInputStream;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.DataObject;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads the data objects a backup needs — its own and, for an incremental backup, the older
 * ones its manifest assigns files to — and hands each wanted entry to a handler, checking every
 * file against the manifest and every object's OpenPGP integrity code. Shared by verify and
 * restore so that both apply exactly the same rules.
 */
public final class ChainReader {
    /** What to do with the entries; implementations write (restore) or only hash (verify). */
    interface Handler {
        /** A directory entry of the backup's own object. */
        void directory(TarReader.Entry e) throws IOException;

        /**
         * A directory of an older object that holds a wanted file below it. An incremental backup
         * archives only the directories that changed since its full backup (FORMAT.md §5), so the
         * others come from the object that has them; objects are read newest first, so a
         * directory that already exists came from a newer object and must be kept as it is.
         */
        default void inheritedDirectory(TarReader.Entry e) throws IOException {
            // nothing to do unless the handler writes
        }

        /** A wanted regular file; returns its size and SHA-256 as read. */
        Read file(TarReader.Entry e) throws IOException;

        /**
         * An entry under the reserved {@code .synapse-backup/} directory of the own object that the
         * manifest does not list (the manifest itself).
         */
        void reserved(TarReader.Entry e) throws IOException;

        /**
         * A file under the reserved directory that the manifest lists (a PostgreSQL dump chunk):
         * checked like any file, but never written into the live filesystem.
         */
        Read reservedFile(TarReader.Entry e) throws IOException;

        /** A link, device or other entry in the own object (restore refuses it). */
        void other(TarReader.Entry e) throws IOException;
    }

    /** Size and hash of a file as it was read. */
    record Read(long size, String sha256) {
        /** Reads {@code in} to its end, discarding the bytes; their count and SHA-256. */
        static Read drain(InputStream in) throws IOException {
            DigestInputStream h = new DigestInputStream(in, Sha256.newDigest());
            long n = h.transferTo(OutputStream.nullOutputStream());
            return new Read(n, Sha256.hex(h.getMessageDigest().digest()));
        }
    }

    /** Totals of a read. */
    record Result(long files, long bytes, long downloaded, List<String> objects, List<String> problems, long problemCount) {
    }

    private final Repository repo;
    private final Opener opener;
    private final Progress progress;

    ChainReader(Repository repo, Opener opener, Progress progress) {
        this.repo = repo;
        this.opener = opener;
        this.progress = progress;
    }

    /** Reads a backup that has a manifest. */
    Result read(OpenedBackup backup, Handler handler) throws IOException {
        String id = backup.id();
        Map<String, ObjectInfo> infos = new LinkedHashMap<>();
        long total = 0;
        for (DataObject o : backup.objects()) {
            Optional<ObjectInfo> info = repo.stat(o.backupId());
            if (info.isEmpty()) {
                throw new IntegrityException("data object " + o.backupId() + ", which holds " + o.files()
                        + " files of " + id + ", is missing from " + repo.location());
            }
            infos.put(o.backupId(), info.get());
            total += info.get().size();
        }
        long files = 0;
        long bytes = 0;
        long downloaded = 0;
        List<String> problems = new ArrayList<>();
        long problemCount = 0;
        progress.start("read " + id + (infos.size() > 1 ? " (" + infos.size() + " objects)" : ""), total);
        try {
            for (String object : infos.keySet()) {
                boolean own = object.equals(id);
                // The file list is streamed again for each object rather than held in memory.
                try (Manifest.FileIterator it = Manifest.files(backup.manifestFile())) {
                    ManifestMatcher matcher = new ManifestMatcher(new ObjectRecords(it, object, own),
                            own ? backup.skipped() : Set.of(), own);
                    try {
                        downloaded += readObject(object, own, handler, matcher);
                    } catch (IntegrityException e) {
                        throw own ? e : new IntegrityException("data object " + object + " (holding files of " + id
                                + "): " + e.getMessage(), e);
                    }
                    matcher.end();
                    files += matcher.matched();
                    bytes += matcher.matchedBytes();
                    problemCount += matcher.problemCount();
                    for (String p : matcher.problems()) {
                        if (problems.size() < 20) {
                            problems.add(own ? p : object + ": " + p);
                        }
                    }
                }
            }
        } finally {
            progress.finish();
        }
        return new Result(files, bytes, downloaded, List.copyOf(infos.keySet()), problems, problemCount);
    }

    /**
     * Pops the directories that do not contain {@code name}; returns how many of those left were
     * handed on already (always the outermost ones).
     */
    private static int leave(Deque<TarReader.Entry> dirs, int handedOn, String name) {
        while (!dirs.isEmpty() && !name.startsWith(dirs.peek().name() + "/")) {
            dirs.pop();
        }
        return Math.min(handedOn, dirs.size());
    }

    /** Reads a backup without a manifest (another tool's): every entry goes to the handler. */
    Result readWhole(String id, long size, Handler handler) throws IOException {
        progress.start("read " + id, size);
        try {
            Totals totals = new Totals();
            long downloaded = readObject(id, true, handler, null, totals);
            return new Result(totals.files, totals.bytes, downloaded, List.of(id), List.of(), 0);
        } finally {
            progress.finish();
        }
    }

    private long readObject(String object, boolean own, Handler handler, ManifestMatcher matcher) throws IOException {
        return readObject(object, own, handler, matcher, new Totals());
    }

    /** Files and bytes handed to the handler when there is no manifest to count them. */
    private static final class Totals {
        long files;
        long bytes;
    }

    private long readObject(String object, boolean own, Handler handler, ManifestMatcher matcher, Totals totals)
            throws IOException {
        try {
            return readObjectUnnamed(object, own, handler, matcher, totals);
        } catch (IntegrityException e) {
            // Corruption found below (OpenPGP, tar) does not know which object it was reading.
            // Subclasses (an unsafe entry) name the entry, which is enough.
            if (e.getClass() == IntegrityException.class) {
                throw new ObjectIntegrityException(object, e);
            }
            throw e;
        }
    }

    /** Corruption found in one data object, named by it. */
    static final class ObjectIntegrityException extends IntegrityException {
        private static final long serialVersionUID = 1L;

        ObjectIntegrityException(String object, IntegrityException cause) {
            super(object + ": " + cause.getMessage(), cause);
        }
    }

    /**
     * The manifest records whose bytes live in one data object: those naming it, and for the
     * backup's own object also records naming none (all of them, for a full backup).
     */
    static final class ObjectRecords extends LookAheadIterator<ManifestFile> {
        private final Iterator<ManifestFile> in;
        private final String object;
        private final boolean own;

        ObjectRecords(Iterator<ManifestFile> in, String object, boolean own) {
            this.in = in;
            this.object = object;
            this.own = own;
        }

        @Override
        protected ManifestFile advance() {
            while (in.hasNext()) {
                ManifestFile f = in.next();
                if (f.backup() == null ? own : f.backup().equals(object)) {
                    return f;
                }
            }
            return null;
        }
    }

    private long readObjectUnnamed(String object, boolean own, Handler handler, ManifestMatcher matcher, Totals totals)
            throws IOException {
        CountingInputStream downloaded;
        try (InputStream raw = repo.open(object)) {
            downloaded = new CountingInputStream(Metered.input(raw, progress::advance));
            // Download and decryption run on their own thread, ahead of tar, hashing and writing.
            try (InputStream plain = new ReadAheadInputStream(
                    opener.decrypt(new BufferedInputStream(downloaded, 1 << 20)), 1 << 20, 4,
                    "synapse-backup-decrypt")) {
                TarReader tar = new TarReader(plain);
                // An older object's directories on the current path, not yet handed on (see inheritedDirectory).
                Deque<TarReader.Entry> dirs = new ArrayDeque<>();
                int handedOn = 0;
                TarReader.Entry e;
                while ((e = tar.next()) != null) {
                    String name = e.name();
                    if (name.equals(".synapse-backup") || name.startsWith(Manifest.RESERVED_DIR)) {
                        if (e.type() == TarReader.Type.FILE && !name.equals(Manifest.TAR_ENTRY) && matcher != null
                                && matcher.wants(name)) {
                            Read r = handler.reservedFile(e);
                            matcher.entry(name, r.size(), r.sha256());
                        } else if (own) {
                            handler.reserved(e);
                        }
                        continue;
                    }
                    switch (e.type()) {
                        case DIRECTORY -> {
                            if (own) {
                                handler.directory(e);
                            } else {
                                handedOn = leave(dirs, handedOn, name);
                                dirs.push(e);
                            }
                        }
                        case FILE -> {
                            if (matcher == null) {
                                Read r = handler.file(e);
                                totals.files++;
                                totals.bytes += r.size();
                            } else if (matcher.wants(name)) {
                                if (!own) {
                                    handedOn = leave(dirs, handedOn, name);
                                    for (Iterator<TarReader.Entry> it = dirs.descendingIterator(); it.hasNext(); ) {
                                        TarReader.Entry d = it.next();
                                        if (handedOn-- <= 0) {
                                            handler.inheritedDirectory(d);
                                        }
                                    }
                                    handedOn = dirs.size();
                                }
                                Read r = handler.file(e);
                                matcher.entry(name, r.size(), r.sha256());
                            }
                        }
                        default -> {
                            if (own) {
                                handler.other(e);
                            }
                        }
                    }
                }
                // TarReader reads to the end at the end of the archive, but be explicit: only the
                // end of the OpenPGP message says (by its MDC) whether everything was intact.
                plain.transferTo(OutputStream.nullOutputStream());
            }
        }
        return downloaded.count();
    }
}
