package dev.synapsebackup.config;

import dev.synapsebackup.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * An administrative PostgreSQL connection (config block {@code postgres:}), used by a restore
 * only for what Synapse's own role may not do: creating its database on a new server (and
 * dropping it again if that restore fails). Never used unless configured. It reaches the same
 * server as homeserver.yaml's {@code database.args}, either
 * <ul>
 *   <li>as {@link #osUser()} (e.g. {@code postgres}): the client programs run as that OS user
 *       ({@code runuser -u}) over the local Unix socket with peer authentication, as Synapse's
 *       docs do with {@code sudo -u postgres}; or</li>
 *   <li>as role {@link #user()} with the password in {@link #passwordFile()} (first line), handed
 *       to libpq through a temporary passfile, never through argv or the environment.</li>
 * </ul>
 *
 * @param osUser       OS user to run the client programs as, or {@code null}
 * @param user         PostgreSQL role to connect as, or {@code null} (with {@code osUser}: the
 *                     role named like the OS user)
 * @param passwordFile file whose first line is {@code user}'s password, or {@code null}
 */
public record PostgresAdmin(String osUser, String user, Path passwordFile) {
    public PostgresAdmin {
        if (osUser == null && user == null) {
            throw new ConfigException("\"postgres\" needs \"admin-os-user\" or \"admin-user\"");
        }
    }

    /** Reads the admin password (first line of {@link #passwordFile()}), if one is configured. */
    public Optional<Secret> password() {
        if (passwordFile == null) {
            return Optional.empty();
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(passwordFile);
        } catch (NoSuchFileException e) {
            throw new ConfigException("PostgreSQL admin password file " + passwordFile
                    + " (\"postgres.admin-password-file\") does not exist");
        } catch (IOException e) {
            throw new ConfigException("cannot read PostgreSQL admin password file " + passwordFile
                    + " (\"postgres.admin-password-file\"): " + e.getMessage());
        }
        try {
            int end = 0;
            while (end < bytes.length && bytes[end] != '\n' && bytes[end] != '\r') {
                end++;
            }
            if (end == 0) {
                throw new ConfigException("PostgreSQL admin password file " + passwordFile
                        + " (\"postgres.admin-password-file\") is empty");
            }
            return Optional.of(Secret.of(new String(bytes, 0, end, StandardCharsets.UTF_8)));
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /** How it connects, for messages (never the password). */
    public String describe() {
        if (osUser != null) {
            return "OS user \"" + osUser + "\" over the local socket" + (user == null ? "" : " as role \"" + user + "\"");
        }
        return "role \"" + user + "\"";
    }
}
