package dev.synapsebackup;

/** Another run holds the repository lock (exit 6). */
public class RepositoryLockedException extends SynapseBackupException {
    private static final long serialVersionUID = 1L;

    public RepositoryLockedException(String message) {
        super(LOCKED, message);
    }

    public RepositoryLockedException(String message, Throwable cause) {
        super(LOCKED, message, cause);
    }
}
