package dev.synapsebackup.backup;

import dev.synapsebackup.config.Secret;
import java.nio.file.Path;
import java.util.Objects;

/**
 * What {@link SynapseBackup#create} needs besides the configuration.
 *
 * @param passphrase         the passphrase to encrypt with
 * @param includeRemoteMedia also back up {@code remote_content} and {@code remote_thumbnail}
 * @param tempDir            where to put the database snapshot and the manifest while they are made;
 *                           null for the system default
 * @param progress           progress listener
 */
public record CreateOptions(Secret passphrase, boolean includeRemoteMedia, Path tempDir, Progress progress) {
    public CreateOptions {
        Objects.requireNonNull(passphrase, "passphrase");
        progress = progress == null ? Progress.NONE : progress;
    }
}
