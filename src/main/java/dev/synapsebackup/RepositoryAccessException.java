package dev.synapsebackup;

/** The bucket or repository directory cannot be used (exit 3). */
public class RepositoryAccessException extends SynapseBackupException {
    private static final long serialVersionUID = 1L;

    public RepositoryAccessException(String message) {
        super(ACCESS, message);
    }

    public RepositoryAccessException(String message, Throwable cause) {
        super(ACCESS, message, cause);
    }
}
