package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.archive.FileRecord;
import dev.synapsebackup.archive.TarWriter;
import dev.synapsebackup.crypto.EncryptionKey;
import dev.synapsebackup.crypto.Encryptor;
import dev.synapsebackup.io.Metered;
import dev.synapsebackup.io.PipelinedOutputStream;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data object as it is written: tar, OpenPGP encryption, the repository's object writer; and
 * beside it the manifest, streamed to a file in the work directory as files are archived, then
 * archived last. Each file goes in as its bytes ({@link #add}) or as a reference to an earlier
 * backup's object ({@link #reuse}); {@link #counters} counts both.
 *
 * <p>AES-CFB (serial by nature in OpenPGP) runs on a thread of its own; the calling thread reads
 * and hashes the files, frames the packets and computes the MDC. Closed without {@link #finish},
 * the pipeline stops that thread, so that the upload can be aborted under it.
 */
final class ArchivePipeline implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(ArchivePipeline.class);
    private static final int CIPHER_BUFFER = 1 << 20;
    private static final int CIPHER_BUFFERS = 4;

    private final Path manifestFile;
    private final OutputStream manifestOut;
    private final Manifest.Writer manifest;
    private final String id;
    private final Progress progress;
    private final ArchiveCounters counters = new ArchiveCounters();
    private PipelinedOutputStream cipherStage;
    private OutputStream encrypted;
    private TarWriter tar;
    private boolean finished;

    /**
     * @param target       the data object
     * @param key          the data object's key
     * @param manifestFile where the manifest is written
     * @param header       the manifest's header
     * @param progress     advanced by the bytes archived or found unchanged
     */
    ArchivePipeline(OutputStream target, EncryptionKey key, Path manifestFile, ManifestSummary header,
                    Progress progress) throws IOException {
        this(target, Encryptor.of(key), manifestFile, header, progress);
    }

    /** As above, encrypting with {@code encryptor} (a passphrase key or the recipients). */
    ArchivePipeline(OutputStream target, Encryptor encryptor, Path manifestFile, ManifestSummary header,
                    Progress progress) throws IOException {
        this.manifestFile = manifestFile;
        this.id = header.backupId();
        this.progress = progress;
        this.manifestOut = new BufferedOutputStream(Files.newOutputStream(manifestFile), 1 << 16);
        try {
            this.manifest = new Manifest.Writer(manifestOut, header);
            encrypted = encryptor.encrypt(target, s -> {
                cipherStage = new PipelinedOutputStream(s, CIPHER_BUFFER, CIPHER_BUFFERS, "synapse-backup-encrypt");
                return cipherStage;
            });
            tar = new TarWriter(Metered.output(encrypted, progress::advance));
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The tar stream, for directory entries. */
    TarWriter tar() {
        return tar;
    }

    /** The manifest being written, for the records of S3-held media ({@link MediaCopier}). */
    Manifest.Writer manifest() {
        return manifest;
    }

    /** What has been archived so far. */
    ArchiveCounters counters() {
        return counters;
    }

    /** Archives one file; re-reads it once if it changed while being read, else skips it. */
    void add(Path file, String entry) throws IOException {
        TarWriter.AddResult r;
        try {
            r = tar.addFile(file, entry);
            if (r.changedWhileReading()) {
                LOG.info("{} changed while being read; reading it again", file);
                r = tar.addFile(file, entry);
                if (r.changedWhileReading()) {
                    skip(file, "changed while being read, twice");
                    return;
                }
            }
        } catch (NoSuchFileException e) {
            skip(file, "vanished while the backup ran");
            return;
        }
        record(r.record());
    }

    /** Archives {@code size} bytes of {@code data} as entry {@code name} (a {@code pg_dump} chunk). */
    void addStream(String name, InputStream data, long size, int mode, Instant mtime) throws IOException {
        record(tar.addStream(name, data, size, mode, mtime));
    }

    /** Lists a file whose bytes are in an earlier backup's object, which {@code f} names. */
    void reuse(ManifestFile f) throws IOException {
        manifest.file(f);
        counters.reused(f.size());
        progress.advance(f.size());
    }

    private void record(FileRecord rec) throws IOException {
        manifest.file(new ManifestFile(rec.path(), rec.size(), rec.mtime(), rec.mode(), rec.uid(), rec.gid(),
                rec.sha256(), id));
        counters.archived(rec.size());
    }

    private void skip(Path file, String reason) {
        counters.skipped(file.toString(), reason);
        progress.warn("skipped " + file + ": " + reason);
    }

    /**
     * Completes the manifest with its trailer, archives it, and finishes the tar stream and the
     * OpenPGP message (once the cipher thread has drained). The data object is then complete,
     * not yet committed.
     *
     * @return the number of files the manifest lists
     */
    long finish(DatabaseRecord database) throws IOException {
        manifest.finish(database, counters.skipped());
        manifestOut.flush();
        long fileCount = manifest.fileCount();
        tar.addFile(manifestFile, Manifest.TAR_ENTRY);
        tar.finish();
        encrypted.close();
        finished = true;
        return fileCount;
    }

    /** Closes the manifest file; unless finished, first stops the cipher thread from writing. */
    @Override
    public void close() throws IOException {
        if (!finished && cipherStage != null) {
            cipherStage.cancel(); // the encryption thread stops writing before the upload is aborted
        }
        try (manifestOut) {
            if (manifest != null) {
                manifest.close();
            }
        }
    }
}
