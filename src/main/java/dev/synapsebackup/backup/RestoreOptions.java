package dev.synapsebackup.backup;

import dev.synapsebackup.config.Secret;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How to restore.
 *
 * @param passphrase   the backup's passphrase
 * @param target       restore into this directory (as {@code tar -x -C target}); null for a live restore
 * @param dryRun       download, decrypt and verify fully, say what would change, touch nothing
 * @param noService    the admin has stopped Synapse: do not stop or start it
 * @param keepPrevious keep the replaced live data as {@code *.pre-restore-<id>}
 * @param progress     progress listener
 */
public record RestoreOptions(Secret passphrase, Path target, boolean dryRun, boolean noService, boolean keepPrevious,
                             Progress progress) {
    public RestoreOptions {
        Objects.requireNonNull(passphrase, "passphrase");
        progress = progress == null ? Progress.NONE : progress;
    }
}
