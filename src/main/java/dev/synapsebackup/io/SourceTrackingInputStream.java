package dev.synapsebackup.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Remembers whether the underlying source itself failed. Parsers stacked on top (OpenPGP, tar)
 * report malformed data as IOExceptions too; this lets them tell "the network or disk failed"
 * (rethrow as is) from "the data is corrupt" (an integrity failure).
 */
public class SourceTrackingInputStream extends FilterInputStream {
    private IOException failure;
    private RuntimeException runtimeFailure;

    public SourceTrackingInputStream(InputStream in) {
        super(in);
    }

    /** The IOException the source threw, or null if it never failed. */
    public IOException failure() {
        return failure;
    }

    /** The unchecked exception the source threw (e.g. an integrity failure below), or null. */
    public RuntimeException runtimeFailure() {
        return runtimeFailure;
    }

    @Override
    public int read() throws IOException {
        return (int) tracked(() -> in.read());
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        return (int) tracked(() -> in.read(b, off, len));
    }

    @Override
    public long skip(long n) throws IOException {
        return tracked(() -> in.skip(n));
    }

    /** A call to the source. */
    private interface SourceCall {
        long run() throws IOException;
    }

    /** Runs {@code call}, remembering what it throws. */
    private long tracked(SourceCall call) throws IOException {
        try {
            return call.run();
        } catch (IOException e) {
            failure = e;
            throw e;
        } catch (RuntimeException e) {
            runtimeFailure = e;
            throw e;
        }
    }
}
