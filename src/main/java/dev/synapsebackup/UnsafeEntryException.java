package dev.synapsebackup;

/**
 * An archive entry that a restore refuses to write: a {@code ..} component, a link, a device, a
 * path outside the allowed roots, or one that would resolve through a symlink (exit 5). The
 * message names the entry.
 */
public class UnsafeEntryException extends IntegrityException {
    private static final long serialVersionUID = 1L;

    private final String entryName;

    public UnsafeEntryException(String entryName, String reason) {
        super("refusing archive entry \"" + entryName + "\": " + reason);
        this.entryName = entryName;
    }

    /** The entry name as it appears in the archive. */
    public String entryName() {
        return entryName;
    }
}
