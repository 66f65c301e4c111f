package dev.synapsebackup.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;

/** Computes the SHA-256 of the bytes written through it. */
public class HashingOutputStream extends FilterOutputStream {
    private final MessageDigest digest = Sha256.newDigest();
    private byte[] result;

    public HashingOutputStream(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        checkOpen();
        out.write(b);
        digest.update((byte) b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        checkOpen();
        out.write(b, off, len);
        digest.update(b, off, len);
    }

    private void checkOpen() {
        if (result != null) {
            throw new IllegalStateException("digest() already taken");
        }
    }

    /** The SHA-256 of everything written so far; writing further afterwards is an error. */
    public byte[] digest() {
        if (result == null) {
            result = digest.digest();
        }
        return result.clone();
    }

    /** {@link #digest()} as lower-case hex. */
    public String hexDigest() {
        return Sha256.hex(digest());
    }
}
