package dev.synapsebackup.io;

import java.io.FilterInputStream;
import java.io.InputStream;

/** Shields an input stream the caller owns: {@link #close()} leaves the delegate open. */
public class NonClosingInputStream extends FilterInputStream {
    public NonClosingInputStream(InputStream in) {
        super(in);
    }

    // FilterInputStream.read(byte[]) already delegates to read(byte[], int, int): bulk reads pass.
    @Override
    public void close() {
        // deliberately does not close the delegate
    }
}
