package dev.synapsebackup.config;

import java.util.Arrays;

/**
 * A secret value (passphrase, secret key, database password) that never shows itself in
 * {@link #toString()}, logs or exception messages. Only {@link #reveal()} hands it out, and
 * callers use that at the last moment, where the value is really needed.
 */
public final class Secret {
    private final char[] value;

    private Secret(char[] value) {
        this.value = value;
    }

    /** Wraps a copy of {@code value}. */
    public static Secret of(char[] value) {
        return new Secret(value.clone());
    }

    /** Wraps {@code value}. */
    public static Secret of(String value) {
        return new Secret(value.toCharArray());
    }

    /** A copy of the secret characters; the caller should wipe it when done. */
    public char[] reveal() {
        return value.clone();
    }

    /** The secret as a string, for APIs that take nothing else (the AWS SDK). */
    public String revealString() {
        return new String(value);
    }

    /** Whether the secret has no characters. */
    public boolean isEmpty() {
        return value.length == 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Secret s && Arrays.equals(value, s.value);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(value);
    }

    /** Always {@code "****"}: the value is never printed. */
    @Override
    public String toString() {
        return "****";
    }
}
