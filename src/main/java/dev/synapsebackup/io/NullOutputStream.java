package dev.synapsebackup.io;

import java.io.OutputStream;

/** Discards everything written to it (for verify runs that only need hashes and counts). */
public final class NullOutputStream extends OutputStream {
    @Override
    public void write(int b) {
        // discarded
    }

    @Override
    public void write(byte[] b, int off, int len) {
        // discarded
    }
}
