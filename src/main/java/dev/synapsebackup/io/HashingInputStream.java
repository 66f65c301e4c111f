package dev.synapsebackup.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;

/**
 * Computes the SHA-256 of the bytes read through it. Mark/reset and skip are not supported, since
 * skipped or re-read bytes would make the digest meaningless.
 */
public class HashingInputStream extends FilterInputStream {
    private final MessageDigest digest = Sha256.newDigest();
    private byte[] result;

    public HashingInputStream(InputStream in) {
        super(in);
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            update(new byte[] {(byte) b}, 0, 1);
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            update(b, off, n);
        }
        return n;
    }

    /** Reads and hashes (instead of skipping) so that the digest covers every byte. */
    @Override
    public long skip(long n) throws IOException {
        byte[] buf = new byte[(int) Math.min(Math.max(n, 0), 8192)];
        long total = 0;
        while (total < n) {
            int r = read(buf, 0, (int) Math.min(buf.length, n - total));
            if (r < 0) {
                break;
            }
            total += r;
        }
        return total;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public synchronized void mark(int readlimit) {
        // not supported
    }

    @Override
    public synchronized void reset() throws IOException {
        throw new IOException("mark/reset not supported");
    }

    private void update(byte[] b, int off, int len) {
        if (result != null) {
            throw new IllegalStateException("digest() already taken");
        }
        digest.update(b, off, len);
    }

    /** The SHA-256 of everything read so far; reading further afterwards is an error. */
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
