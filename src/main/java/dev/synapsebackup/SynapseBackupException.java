package dev.synapsebackup;

/**
 * Root of the tool's exception hierarchy. Every subtype maps to one of the exit codes of the
 * product contract (SPEC §2), so the CLI never has to guess what a failure means.
 *
 * <p>Messages are shown to the user as they are: they must name the offending file, key or
 * bucket and must never contain a secret.
 */
public class SynapseBackupException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Exit code: the operation failed. */
    public static final int FAILED = 1;
    /** Exit code: usage error or invalid configuration. */
    public static final int USAGE = 2;
    /** Exit code: the bucket or repository cannot be accessed. */
    public static final int ACCESS = 3;
    /** Exit code: the backup id does not exist. */
    public static final int NOT_FOUND = 4;
    /** Exit code: wrong passphrase or integrity failure. */
    public static final int INTEGRITY = 5;
    /** Exit code: the repository is locked by another run. */
    public static final int LOCKED = 6;
    /** Exit code: interrupted (SIGINT). */
    public static final int INTERRUPTED = 130;

    private final int exitCode;

    public SynapseBackupException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public SynapseBackupException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** Operation failed (exit 1). */
    public SynapseBackupException(String message) {
        this(FAILED, message);
    }

    /** Operation failed (exit 1). */
    public SynapseBackupException(String message, Throwable cause) {
        this(FAILED, message, cause);
    }

    /** The process exit code this failure maps to. */
    public int exitCode() {
        return exitCode;
    }
}
