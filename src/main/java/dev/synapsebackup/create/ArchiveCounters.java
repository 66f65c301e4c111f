package dev.synapsebackup.create;

import dev.synapsebackup.manifest.ManifestSummary;
import java.util.ArrayList;
import java.util.List;

/** What a backup's archive pass counted: the figures of its {@link CreateResult} and its manifest's skipped files. */
final class ArchiveCounters {
    private long sourceBytes;
    private long archivedFiles;
    private long archivedBytes;
    private final List<ManifestSummary.Skipped> skipped = new ArrayList<>();

    /** A file of {@code size} bytes whose bytes this backup's data object holds. */
    void archived(long size) {
        sourceBytes += size;
        archivedBytes += size;
        archivedFiles++;
    }

    /** A file of {@code size} bytes whose bytes an earlier backup's object holds. */
    void reused(long size) {
        sourceBytes += size;
    }

    /** A file left out of the backup, and why. */
    void skipped(String path, String reason) {
        skipped.add(new ManifestSummary.Skipped(path, reason));
    }

    /** The total size of the backup's files, wherever their bytes are. */
    long sourceBytes() {
        return sourceBytes;
    }

    /** How many files this backup's data object holds. */
    long archivedFiles() {
        return archivedFiles;
    }

    /** The total size of the files this backup's data object holds. */
    long archivedBytes() {
        return archivedBytes;
    }

    /** The files left out, in the order they were met. */
    List<ManifestSummary.Skipped> skipped() {
        return List.copyOf(skipped);
    }
}
