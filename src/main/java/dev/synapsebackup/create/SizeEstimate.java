package dev.synapsebackup.create;

import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.synapse.MediaEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * What a backup's archive is expected to weigh, counted before it is written. It sets the total of
 * the progress bar and what the repository is told to expect: an S3 upload sizes its parts from
 * it, so it errs on the large side, but not by much (larger parts cost memory).
 *
 * <p>A full backup's size is known from the scan. An incremental one is not scanned first (that
 * would walk the media twice): its progress counts the bytes examined, unchanged files included,
 * against the parent's total, which also bounds what the repository is told to expect, so an S3
 * upload sizes its parts (and so its memory) no larger than for a full backup of the same server.
 */
final class SizeEstimate {
    /**
     * Tar bytes per entry besides its content: a 512-byte header, a PAX extended header (a header
     * block and a data block) for long names and exact times, and up to 511 bytes of padding.
     */
    static final long ENTRY_OVERHEAD = 2048;
    /** Bytes of the manifest (which the archive holds too) per file record, a generous average. */
    static final long MANIFEST_BYTES_PER_FILE = 300;
    /** The end of the archive: two zero blocks, padded to a whole tar record (20 blocks of 512). */
    static final long ARCHIVE_END = 10240;
    /**
     * OpenPGP frames the plaintext in partial-length packets of 64 KiB, each behind a one-byte
     * length (the last behind at most five): one byte per 8192 of plaintext covers them amply.
     */
    static final long PLAINTEXT_PER_FRAMING_BYTE = 8192;
    /** The OpenPGP message's own packets: the SKESK, the SEIPD and literal-data headers, the MDC. */
    static final long MESSAGE_OVERHEAD = 4096;

    private long bytes; // content to archive
    private long entries; // tar entries to write
    private long files; // records in the manifest

    /** Counts a file that the archive will hold; one that vanished is not counted (archiving records it). */
    void add(Path file) {
        try {
            bytes += Files.size(file);
            entries++;
            files++;
        } catch (IOException e) {
            // vanished: the archiving pass will notice and record it
        }
    }

    /** Counts a manifest record whose bytes are in the parent's object (no tar entry). */
    void addReused() {
        files++;
    }

    /** Counts what the media walk of a full backup will archive: every entry, every file's bytes. */
    void addMedia(Iterator<MediaEntry> media) {
        while (media.hasNext()) {
            MediaEntry m = media.next();
            entries++;
            if (!m.isDirectory()) {
                bytes += m.size();
                files++;
            }
        }
    }

    /** Whether nothing at all is to be backed up. */
    boolean isEmpty() {
        return entries == 0 && files == 0;
    }

    /**
     * The expected size of the tar stream.
     *
     * @param parent the summary of the parent of an incremental backup, or null for a full one
     */
    long plainBytes(ManifestSummary parent) {
        if (parent == null) {
            // +2: entries the scan does not see, the manifest's own among them.
            return bytes + (entries + 2) * ENTRY_OVERHEAD + files * MANIFEST_BYTES_PER_FILE + ARCHIVE_END;
        }
        return Math.max(parent.totalBytes(), bytes) + files * ENTRY_OVERHEAD + ARCHIVE_END;
    }

    /** The expected size of the encrypted data object holding {@code plainBytes} of tar. */
    static long cipherBytes(long plainBytes) {
        return plainBytes + plainBytes / PLAINTEXT_PER_FRAMING_BYTE + MESSAGE_OVERHEAD;
    }
}
