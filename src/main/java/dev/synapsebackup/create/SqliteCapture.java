package dev.synapsebackup.create;

import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.synapse.SqliteFileState;
import dev.synapsebackup.synapse.SqliteSnapshot;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.FutureTask;

/**
 * The SQLite snapshot and its SHA-256, made on a thread of their own: for a large database
 * they take as long as reading the parent's manifest. No snapshot is made when the database's
 * files are, by {@code stat}, exactly as when the parent's snapshot began
 * ({@link SqliteFileState}); and its {@code quick_check} is skipped when the snapshot is
 * byte-identical to the parent's, which passed it. The thread learns the parent's record from
 * {@link #parent}, and waits for it only when the files have not changed since the newest
 * backup was made: otherwise it starts copying at once.
 */
final class SqliteCapture {
    /** The parent's record of the database, naming the object that holds it, and the files' state then. */
    record ParentDatabase(ManifestFile record, SqliteFileState state) {
    }

    final Path live;
    private final FutureTask<SqliteSnapshot.Result> task;
    private final Thread thread;
    private final CompletableFuture<Optional<ParentDatabase>> parent = new CompletableFuture<>();
    private volatile String sha256;
    private volatile Path file;
    private volatile SqliteFileState state;
    private volatile boolean unchanged;

    /** @param newestBackup when the newest complete backup was made, or null if there is none */
    SqliteCapture(Path live, Path target, Instant newestBackup) {
        this.live = live;
        this.task = new FutureTask<>(() -> {
            // Read before the snapshot begins: a write after this moment changes what a later run sees.
            SqliteFileState before = SqliteFileState.read(live, Instant.now());
            state = before;
            if (newestBackup != null && !before.changedSince(newestBackup.minus(SqliteFileState.SLACK))) {
                Optional<ParentDatabase> p = parent.get();
                SqliteFileState then = p.map(ParentDatabase::state).orElse(null);
                if (before.unchangedSince(then)) {
                    state = then; // the bytes are those of that snapshot
                    unchanged = true;
                    return null;
                }
            }
            // What the next run compares with: read once SQLite has opened the database (which
            // creates a missing -wal), before the copy reads it.
            Path copy = SqliteSnapshot.copy(live, target, () -> {
                try {
                    state = SqliteFileState.read(live, Instant.now());
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read the attributes of " + live + ": " + e.getMessage(), e);
                }
            });
            file = copy;
            // Hashed here only to compare with the parent's: archiving hashes it anyway.
            Optional<String> parentSha = parent.get().map(pd -> pd.record().sha256());
            if (parentSha.isPresent()) {
                String sha = sha256Of(copy);
                sha256 = sha;
                if (parentSha.get().equals(sha)) {
                    return null; // identical to the parent's checked snapshot
                }
            }
            return SqliteSnapshot.inspect(copy);
        });
        this.thread = Tasks.startDaemon(task, "synapse-backup-snapshot");
    }

    /** The parent's database record and state, empty if none; call once the parent is known. */
    void parent(Optional<ParentDatabase> p) {
        parent.complete(p);
    }

    /** Whether no snapshot was made because the files are as at the parent's (after {@link #await}). */
    boolean unchanged() {
        return unchanged;
    }

    /** The state of the database's files that goes with the snapshot's bytes (after {@link #await}). */
    SqliteFileState state() {
        return state;
    }

    /** The snapshot file (after {@link #await}). */
    Path file() {
        return file;
    }

    /**
     * Waits for the snapshot; its failure is thrown here. Null when none was made, or when it
     * is byte-identical to the parent's (and so was not checked again).
     */
    SqliteSnapshot.Result await() throws IOException {
        return Tasks.await(task, "the database snapshot of " + live);
    }

    /** The snapshot's SHA-256 (after {@link #await}), null when there was no parent record to compare it with. */
    String sha256() {
        return sha256;
    }

    /** Waits for the thread to end, ignoring interrupts (the backup API cannot be stopped midway). */
    void join() {
        parent.complete(Optional.empty()); // a run that failed before it knew its parent
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static String sha256Of(Path file) throws IOException {
        MessageDigest sha = Sha256.newDigest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
        }
        return Sha256.hex(sha.digest());
    }
}
