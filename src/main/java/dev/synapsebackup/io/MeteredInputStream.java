package dev.synapsebackup.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.function.LongConsumer;

/** Tells a listener how many bytes are read through it, for progress reporting. */
public final class MeteredInputStream extends FilterInputStream {
    private final LongConsumer listener;

    public MeteredInputStream(InputStream in, LongConsumer listener) {
        super(in);
        this.listener = listener;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            listener.accept(1);
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            listener.accept(n);
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        long s = in.skip(n);
        if (s > 0) {
            listener.accept(s);
        }
        return s;
    }
}
