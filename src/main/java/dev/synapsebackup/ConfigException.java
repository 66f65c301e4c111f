package dev.synapsebackup;

/** Invalid configuration or usage (exit 2). The message names the offending key or file. */
public class ConfigException extends SynapseBackupException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(USAGE, message);
    }

    public ConfigException(String message, Throwable cause) {
        super(USAGE, message, cause);
    }
}
