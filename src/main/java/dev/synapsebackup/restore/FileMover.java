package dev.synapsebackup.restore;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** One rename of the live swap (live path aside, staged path into place, or back on rollback). */
@FunctionalInterface
interface FileMover {
    /** Atomic renames on one filesystem, as the swap needs them. */
    FileMover ATOMIC = (from, to) -> {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " atomically (different filesystems?)", e);
        }
    };

    void move(Path from, Path to) throws IOException;
}
