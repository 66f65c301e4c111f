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
        try {
            return in.read();
        } catch (IOException e) {
            failure = e;
            throw e;
        } catch (RuntimeException e) {
            runtimeFailure = e;
            throw e;
        }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        try {
            return in.read(b, off, len);
        } catch (IOException e) {
            failure = e;
            throw e;
        } catch (RuntimeException e) {
            runtimeFailure = e;
            throw e;
        }
    }

    @Override
    public long skip(long n) throws IOException {
        try {
            return in.skip(n);
        } catch (IOException e) {
            failure = e;
            throw e;
        } catch (RuntimeException e) {
            runtimeFailure = e;
            throw e;
        }
    }
}
