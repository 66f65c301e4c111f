package dev.synapsebackup.io;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 helpers shared by the hashing streams. */
public final class Sha256 {
    private Sha256() {
    }

    /** A fresh SHA-256 digest (every Java platform must provide it). */
    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** Lower-case hex of {@code bytes}. */
    public static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    /** The SHA-256 of {@code data} as lower-case hex. */
    public static String hexOf(byte[] data) {
        return hex(newDigest().digest(data));
    }
}
