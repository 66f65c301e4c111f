package dev.synapsebackup.repository;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;

/**
 * A GET body that re-GETs the rest of the object when the connection breaks: a read cut off
 * mid-stream (connection reset, premature end, timeout) is resumed with a ranged GET from the
 * byte reached, conditional on the object's ETag, after a backoff; up to {@code maxAttempts - 1}
 * times in a row without progress in between.
 */
final class ResumingDownload extends InputStream {
    private static final Logger LOG = LoggerFactory.getLogger(S3Repository.class);

    /** A GET of the object from byte {@code from} on, if it still has {@code eTag} (null: any). */
    interface RangedGet {
        ResponseInputStream<GetObjectResponse> get(long from, String eTag) throws IOException;
    }

    private final String key;
    private final String fullKey;
    private final RangedGet source;
    private final S3Errors errors;
    private final int maxAttempts;
    private final BackoffStrategy backoff;
    private final String eTag;
    private final long length;
    private AbortOnEarlyClose in;
    private long position;
    private int failuresInARow;

    /** Starts the download of {@code key} in {@code bucket} with a GET of the whole object. */
    ResumingDownload(S3Bucket bucket, String key, RangedGet source, int maxAttempts, BackoffStrategy backoff)
            throws IOException {
        this.key = key;
        this.fullKey = bucket.fullKey(key);
        this.source = source;
        this.errors = bucket.errors();
        this.maxAttempts = maxAttempts;
        this.backoff = backoff;
        ResponseInputStream<GetObjectResponse> first = source.get(0, null);
        this.in = new AbortOnEarlyClose(first);
        this.eTag = first.response().eTag();
        Long len = first.response().contentLength();
        this.length = len == null ? -1 : len;
    }

    @Override
    public int read() throws IOException {
        byte[] one = readNBytes(1);
        return one.length == 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        while (true) {
            try {
                int n = in.read(buf, off, len);
                if (n < 0 && length >= 0 && position < length) {
                    throw new IOException("premature end of the object after " + position + " of " + length + " bytes");
                }
                if (n > 0) {
                    position += n;
                    failuresInARow = 0;
                }
                return n;
            } catch (IOException | SdkException e) {
                resume(e);
            }
        }
    }

    private void resume(Exception cause) throws IOException {
        if (cause instanceof InterruptedIOException || cause instanceof AbortedException
                || Thread.currentThread().isInterrupted() || eTag == null || length < 0
                || ++failuresInARow >= maxAttempts) {
            if (cause instanceof IOException io) {
                throw io;
            }
            throw errors.failure("read", key, (SdkException) cause);
        }
        LOG.debug("download of {} cut after {} bytes ({}); resuming, attempt {} of {}", fullKey, position,
                cause.toString(), failuresInARow + 1, maxAttempts);
        in.abortQuietly();
        try {
            Thread.sleep(backoff.computeDelay(failuresInARow).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("read of " + key + " interrupted");
            ie.initCause(cause);
            throw ie;
        }
        in = new AbortOnEarlyClose(source.get(position, eTag));
    }

    @Override
    public void close() throws IOException {
        in.close();
    }

    /**
     * Closing a partly read response would make Apache drain the rest of the object to reuse the
     * connection; abort the connection instead.
     */
    private static final class AbortOnEarlyClose extends FilterInputStream {
        private final ResponseInputStream<GetObjectResponse> response;
        private boolean eof;

        AbortOnEarlyClose(ResponseInputStream<GetObjectResponse> response) {
            super(response);
            this.response = response;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            eof |= b < 0;
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            eof |= n < 0;
            return n;
        }

        void abortQuietly() {
            try {
                response.abort();
                super.close();
            } catch (IOException | RuntimeException ignored) {
                // the connection is broken already
            }
        }

        @Override
        public void close() throws IOException {
            if (!eof) {
                response.abort();
            }
            super.close();
        }
    }
}
