package dev.synapsebackup.io;

import java.io.IOException;
import java.io.InputStream;
import java.util.function.LongConsumer;
import org.apache.commons.io.input.ProxyInputStream;

/** Tells a listener how many bytes are read (or skipped) through it, for progress reporting. */
public final class MeteredInputStream extends ProxyInputStream {
    private final LongConsumer listener;

    public MeteredInputStream(InputStream in, LongConsumer listener) {
        super(in);
        this.listener = listener;
    }

    @Override
    protected void afterRead(int n) {
        if (n > 0) {
            listener.accept(n);
        }
    }

    @Override
    public long skip(long n) throws IOException {
        long s = super.skip(n);
        if (s > 0) {
            listener.accept(s);
        }
        return s;
    }
}
