package dev.synapsebackup.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Shields a stream the caller owns: {@link #close()} flushes but leaves the delegate open, so a
 * decorator chain can be closed (finishing tar blocks, OpenPGP packets) without closing it.
 */
public class NonClosingOutputStream extends FilterOutputStream {
    private boolean closed;

    public NonClosingOutputStream(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        checkOpen();
        out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        checkOpen();
        out.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
        if (!closed) {
            out.flush();
        }
    }

    /** Flushes the delegate and stops forwarding writes; the delegate stays open. */
    @Override
    public void close() throws IOException {
        if (!closed) {
            out.flush();
            closed = true;
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("stream closed");
        }
    }
}
