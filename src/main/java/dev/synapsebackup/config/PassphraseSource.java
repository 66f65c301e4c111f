package dev.synapsebackup.config;

import dev.synapsebackup.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the backup passphrase comes from: a file (as {@code gpg --passphrase-file} reads it) or
 * a value from the environment. {@link #toString()} names the source, never the value.
 */
public final class PassphraseSource {
    private final Path file;
    private final Secret value;
    private final String origin;

    private PassphraseSource(Path file, Secret value, String origin) {
        this.file = file;
        this.value = value;
        this.origin = origin;
    }

    /** A passphrase file; {@code origin} says which setting named it. */
    public static PassphraseSource file(Path file, String origin) {
        return new PassphraseSource(file, null, origin);
    }

    /** A passphrase given directly (environment or prompt). */
    public static PassphraseSource value(Secret value, String origin) {
        return new PassphraseSource(null, value, origin);
    }

    /** The passphrase file, if the passphrase comes from one. */
    public Optional<Path> file() {
        return Optional.ofNullable(file);
    }

    /**
     * Reads the passphrase. From a file, that is its first line without the line end, exactly
     * what {@code gpg --passphrase-file} uses, so that stock gpg opens what we write.
     *
     * @throws ConfigException if the file is missing, unreadable or the passphrase is empty
     */
    public Secret read() {
        if (value != null) {
            if (value.isEmpty()) {
                throw new ConfigException("the passphrase from " + origin + " is empty");
            }
            return value;
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException("passphrase file " + file + " (" + origin + ") does not exist");
        } catch (IOException e) {
            throw new ConfigException("cannot read passphrase file " + file + " (" + origin + "): " + e.getMessage());
        }
        int end = 0;
        while (end < bytes.length && bytes[end] != '\n') {
            end++;
        }
        if (end > 0 && bytes[end - 1] == '\r') {
            end--;
        }
        String line = new String(bytes, 0, end, StandardCharsets.UTF_8);
        java.util.Arrays.fill(bytes, (byte) 0);
        if (line.isEmpty()) {
            throw new ConfigException("passphrase file " + file + " (" + origin + ") is empty");
        }
        return Secret.of(line);
    }

    @Override
    public String toString() {
        return file != null ? "passphrase file " + file : "passphrase from " + origin;
    }
}
