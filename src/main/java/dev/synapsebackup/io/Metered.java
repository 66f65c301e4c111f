package dev.synapsebackup.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.function.LongConsumer;
import org.apache.commons.io.input.ProxyInputStream;
import org.apache.commons.io.output.ProxyOutputStream;

/** Streams that tell a listener how many bytes pass through them, for progress reporting. */
public final class Metered {
    private Metered() {
    }

    /** Counts what is read, or skipped, through {@code in}. */
    public static InputStream input(InputStream in, LongConsumer listener) {
        return new ProxyInputStream(in) {
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
        };
    }

    /** Counts what is written through {@code out}. */
    public static OutputStream output(OutputStream out, LongConsumer listener) {
        return new ProxyOutputStream(out) {
            @Override
            protected void afterWrite(int n) {
                listener.accept(n);
            }
        };
    }
}
