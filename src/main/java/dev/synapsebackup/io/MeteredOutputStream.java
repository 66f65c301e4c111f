package dev.synapsebackup.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.function.LongConsumer;

/** Tells a listener how many bytes pass through, for progress reporting. */
public final class MeteredOutputStream extends FilterOutputStream {
    private final LongConsumer listener;

    public MeteredOutputStream(OutputStream out, LongConsumer listener) {
        super(out);
        this.listener = listener;
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
        listener.accept(1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        listener.accept(len);
    }
}
