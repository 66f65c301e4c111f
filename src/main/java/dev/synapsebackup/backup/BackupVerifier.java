package dev.synapsebackup.backup;

import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.io.CountingInputStream;
import dev.synapsebackup.io.HashingInputStream;
import dev.synapsebackup.io.MeteredInputStream;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Reads a whole backup back: decrypts it (checking the MDC at the end), reads every tar entry,
 * and checks each file's size and SHA-256 against the manifest. Writes nothing but a temporary
 * copy of the manifest.
 */
final class BackupVerifier {
    private final Repository repo;

    BackupVerifier(Repository repo) {
        this.repo = repo;
    }

    VerifyResult verify(String id, Secret passphrase, Path tempBase, Progress progress) throws IOException {
        long start = System.nanoTime();
        ObjectInfo data = BackupReader.dataObject(repo, id);
        boolean hasManifest = BackupReader.hasManifest(repo, id);
        if (!hasManifest && data.metadata().containsKey(BackupId.FORMAT_METADATA)) {
            throw BackupReader.unfinished(id);
        }
        Path temp = BackupReader.tempDir(tempBase);
        try {
            ManifestMatcher matcher = null;
            Manifest.FileIterator files = null;
            if (hasManifest) {
                Path manifestFile = BackupReader.fetchManifest(repo, id, passphrase, temp);
                ManifestSummary summary = Manifest.readSummary(manifestFile);
                files = Manifest.files(manifestFile);
                matcher = new ManifestMatcher(new FilteredIterator(files, id), BackupReader.skippedEntries(summary));
            }
            long fileCount = 0;
            long fileBytes = 0;
            CountingInputStream downloaded;
            progress.start("verify " + id, data.size());
            try (InputStream raw = repo.open(id)) {
                downloaded = new CountingInputStream(new MeteredInputStream(raw, progress::advance));
                InputStream plain = OpenPgp.decrypt(new BufferedInputStream(downloaded, 1 << 20), passphrase);
                TarReader tar = new TarReader(plain);
                TarReader.Entry e;
                while ((e = tar.next()) != null) {
                    if (e.type() != TarReader.Type.FILE) {
                        continue;
                    }
                    HashingInputStream h = new HashingInputStream(e.content());
                    long n = h.transferTo(OutputStream.nullOutputStream());
                    if (e.name().startsWith(Manifest.RESERVED_DIR)) {
                        continue;
                    }
                    fileCount++;
                    fileBytes += n;
                    if (matcher != null) {
                        matcher.entry(e.name(), n, h.hexDigest());
                    }
                }
                // Read to the very end: only there does OpenPGP's MDC say whether it was all intact.
                plain.transferTo(OutputStream.nullOutputStream());
                plain.close();
            } finally {
                if (files != null) {
                    files.close();
                }
                progress.finish();
            }
            List<String> problems = List.of();
            long problemCount = 0;
            if (matcher != null) {
                matcher.end();
                problems = List.copyOf(matcher.problems());
                problemCount = matcher.problemCount();
                fileCount = matcher.matched();
                fileBytes = matcher.matchedBytes();
            }
            return new VerifyResult(id, hasManifest ? "manifest" : "whole", fileCount, fileBytes, downloaded.count(),
                    Duration.ofNanos(System.nanoTime() - start), problems, problemCount);
        } finally {
            BackupCreator.deleteTree(temp);
        }
    }

    /** The manifest records whose bytes live in one data object (all of them, for a full backup). */
    static final class FilteredIterator implements java.util.Iterator<ManifestFile> {
        private final java.util.Iterator<ManifestFile> in;
        private final String id;
        private ManifestFile next;

        FilteredIterator(java.util.Iterator<ManifestFile> in, String id) {
            this.in = in;
            this.id = id;
        }

        @Override
        public boolean hasNext() {
            while (next == null && in.hasNext()) {
                ManifestFile f = in.next();
                if (f.backup() == null || f.backup().equals(id)) {
                    next = f;
                }
            }
            return next != null;
        }

        @Override
        public ManifestFile next() {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            ManifestFile r = next;
            next = null;
            return r;
        }
    }

}
