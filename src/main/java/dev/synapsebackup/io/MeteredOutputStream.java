package dev.synapsebackup.io;

import java.io.OutputStream;
import java.util.function.LongConsumer;
import org.apache.commons.io.output.ProxyOutputStream;

/** Tells a listener how many bytes pass through, for progress reporting. */
public final class MeteredOutputStream extends ProxyOutputStream {
    private final LongConsumer listener;

    public MeteredOutputStream(OutputStream out, LongConsumer listener) {
        super(out);
        this.listener = listener;
    }

    @Override
    protected void afterWrite(int n) {
        listener.accept(n);
    }
}
