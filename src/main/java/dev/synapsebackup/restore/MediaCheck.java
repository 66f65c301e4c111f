package dev.synapsebackup.restore;

import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.MediaObject;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3Repository;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * {@code verify}'s check of a backup's S3-held media copies without downloading them: every
 * record's copy is present with the recorded size (and, for a server-side copy, the recorded
 * ETag). On S3 this is one streamed listing per holder, merged with the records of that holder
 * (both in key order); a local repository is checked by stat. Then the SHA-256 of a sample of the
 * copies whose hash was recorded (every {@value #SAMPLE_EVERY}th, or all) is checked by reading them;
 * an encrypted copy ({@code media-encryption}) is checked against its stored size, and decrypted
 * (MDC checked) to hash its plaintext.
 */
final class MediaCheck {
    /** One copy in this many is downloaded and hashed, unless all are. */
    static final int SAMPLE_EVERY = 100;

    private final Repository repo;
    private final java.nio.file.Path manifestFile;
    private final boolean all;
    private final dev.synapsebackup.crypto.Opener opener;
    private final List<String> problems;
    private long problemCount;
    long objects;
    long bytes;
    long hashed;

    MediaCheck(Repository repo, java.nio.file.Path manifestFile, boolean all, dev.synapsebackup.crypto.Opener opener,
            List<String> problems) {
        this.repo = repo;
        this.opener = opener;
        this.manifestFile = manifestFile;
        this.all = all;
        this.problems = problems;
    }

    /** Runs the check; returns the number of problems found (the first are added to the list). */
    long run() throws IOException {
        SortedSet<String> holders = new TreeSet<>();
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            MediaRestore.skipFiles(it);
            Iterator<MediaObject> media = it.media();
            while (media.hasNext()) {
                MediaObject m = media.next();
                holders.add(m.backup());
                objects++;
                bytes += m.size();
            }
        }
        for (String h : holders) {
            if (repo instanceof S3Repository) {
                byListing(h);
            } else {
                byStat(h);
            }
        }
        sample();
        return problemCount;
    }

    private void byListing(String holder) throws IOException {
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            MediaRestore.skipFiles(it);
            Iterator<MediaObject> records = filtered(it.media(), holder);
            MediaObject[] next = {records.hasNext() ? records.next() : null};
            String prefix = MediaObject.holderPrefix(holder);
            repo.listStored(prefix, o -> {
                String name = o.key().substring(prefix.length());
                while (next[0] != null && MediaObject.KEY_ORDER.compare(next[0].name(), name) < 0) {
                    problem(next[0].repositoryKey() + ": missing");
                    next[0] = records.hasNext() ? records.next() : null;
                }
                if (next[0] != null && next[0].name().equals(name)) {
                    compare(next[0], o.size(), o.eTag());
                    next[0] = records.hasNext() ? records.next() : null;
                }
            });
            while (next[0] != null) {
                problem(next[0].repositoryKey() + ": missing");
                next[0] = records.hasNext() ? records.next() : null;
            }
        }
    }

    private void byStat(String holder) throws IOException {
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            MediaRestore.skipFiles(it);
            Iterator<MediaObject> records = filtered(it.media(), holder);
            while (records.hasNext()) {
                MediaObject m = records.next();
                Optional<ObjectInfo> o = repo.stat(m.repositoryKey());
                if (o.isEmpty()) {
                    problem(m.repositoryKey() + ": missing");
                } else {
                    compare(m, o.get().size(), null);
                }
            }
        }
    }

    private void compare(MediaObject m, long size, String eTag) {
        if (size != m.repositorySize()) {
            problem(m.repositoryKey() + ": " + size + " bytes, the manifest says " + m.repositorySize());
        } else if (m.storedETag() != null && eTag != null && !m.storedETag().equals(eTag)) {
            problem(m.repositoryKey() + ": ETag " + eTag + ", the manifest says " + m.storedETag());
        }
    }

    private void sample() throws IOException {
        long index = 0;
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            MediaRestore.skipFiles(it);
            Iterator<MediaObject> media = it.media();
            while (media.hasNext()) {
                MediaObject m = media.next();
                if (m.sha256() == null || (!all && index++ % SAMPLE_EVERY != 0)) {
                    continue;
                }
                MessageDigest d = Sha256.newDigest();
                try (InputStream in = new DigestInputStream(MediaRestore.open(repo, m, opener), d)) {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (FileNotFoundException e) {
                    continue; // reported as missing already
                } catch (dev.synapsebackup.IntegrityException e) {
                    problem(m.repositoryKey() + ": " + e.getMessage()); // damaged: its MDC or framing fails
                    continue;
                }
                hashed++;
                if (!Sha256.hex(d.digest()).equals(m.sha256())) {
                    problem(m.repositoryKey() + ": SHA-256 does not match the manifest");
                }
            }
        }
    }

    private static Iterator<MediaObject> filtered(Iterator<MediaObject> all, String holder) {
        return new dev.synapsebackup.io.LookAheadIterator<>() {
            @Override
            protected MediaObject advance() {
                while (all.hasNext()) {
                    MediaObject m = all.next();
                    if (m.backup().equals(holder)) {
                        return m;
                    }
                }
                return null;
            }
        };
    }

    private void problem(String p) {
        problemCount++;
        if (problems.size() < 20) {
            problems.add(p);
        }
    }
}
