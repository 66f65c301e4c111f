package dev.synapsebackup.restore;

import dev.synapsebackup.Progress;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.Opener;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How to restore.
 *
 * @param opener       what opens the backup's objects: the passphrase or a secret key
 * @param target       restore into this directory (as {@code tar -x -C target}); null for a live restore
 * @param dryRun       download, decrypt and verify fully, say what would change, touch nothing
 * @param noService    the admin has stopped Synapse: do not stop or start it
 * @param keepPrevious keep the replaced live data as {@code *.pre-restore-<id>}
 * @param progress     progress listener
 * @param dropExisting a PostgreSQL database that already has tables has its contents replaced in
 *                     one transaction (with {@code keepPrevious} the old ones stay in schema
 *                     {@code public_pre_restore_<id>}) instead of being refused
 */
public record RestoreOptions(Opener opener, Path target, boolean dryRun, boolean noService, boolean keepPrevious,
                             Progress progress, boolean dropExisting) {
    public RestoreOptions {
        Objects.requireNonNull(opener, "opener");
        progress = progress == null ? Progress.NONE : progress;
    }

    /** Options for a passphrase-encrypted backup. */
    public RestoreOptions(Secret passphrase, Path target, boolean dryRun, boolean noService, boolean keepPrevious,
                          Progress progress, boolean dropExisting) {
        this(Opener.passphrase(passphrase), target, dryRun, noService, keepPrevious, progress, dropExisting);
    }

    /**
     * The passphrase, when the passphrase opens the backup; null when a secret key does. Kept so
     * that callers of the API from before {@code --identity} still compile.
     *
     * @deprecated use {@link #opener()}, which covers both schemes
     */
    @Deprecated
    public Secret passphrase() {
        return opener instanceof Opener.Passphrase p ? p.passphrase() : null;
    }

    /** Options that refuse to replace a populated PostgreSQL database. */
    public RestoreOptions(Secret passphrase, Path target, boolean dryRun, boolean noService, boolean keepPrevious,
                          Progress progress) {
        this(passphrase, target, dryRun, noService, keepPrevious, progress, false);
    }
}
