package dev.synapsebackup;

/** The named backup does not exist in the repository (exit 4). */
public class BackupNotFoundException extends SynapseBackupException {
    private static final long serialVersionUID = 1L;

    private final String backupId;

    public BackupNotFoundException(String backupId) {
        super(NOT_FOUND, "backup-id " + backupId + " does not exist");
        this.backupId = backupId;
    }

    /** The id that was asked for. */
    public String backupId() {
        return backupId;
    }
}
