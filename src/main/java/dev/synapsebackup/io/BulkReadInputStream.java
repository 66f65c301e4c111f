package dev.synapsebackup.io;

import java.io.IOException;
import java.io.InputStream;

/**
 * An InputStream written in terms of its array read, which subclasses implement: the single-byte
 * read goes through it (decoders that work a buffer at a time have no cheaper way).
 */
public abstract class BulkReadInputStream extends InputStream {
    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return readNBytes(one, 0, 1) == 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public abstract int read(byte[] b, int off, int len) throws IOException;
}
