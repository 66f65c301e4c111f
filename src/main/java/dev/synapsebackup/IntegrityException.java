package dev.synapsebackup;

/** Wrong passphrase, tampering, truncation or a mismatch against the manifest (exit 5). */
public class IntegrityException extends SynapseBackupException {
    private static final long serialVersionUID = 1L;

    public IntegrityException(String message) {
        super(INTEGRITY, message);
    }

    public IntegrityException(String message, Throwable cause) {
        super(INTEGRITY, message, cause);
    }
}
