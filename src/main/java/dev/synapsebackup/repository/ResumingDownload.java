package dev.synapsebackup.repository;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
 *
 * <p>The same applies to a byte range of the object ({@link #range}), which
 * {@link ParallelRangeDownload} fetches in parallel.
 */
final class ResumingDownload extends InputStream {
    private static final Logger LOG = LoggerFactory.getLogger(S3Repository.class);

    /**
     * A GET of the object's bytes from {@code from} to {@code end} (exclusive; -1: to the end of
     * the object), if it still has {@code eTag} (null: any).
     */
    interface RangedGet {
        ResponseInputStream<GetObjectResponse> get(long from, long end, String eTag) throws IOException;
    }

    private final S3Bucket bucket;
    private final String key;
    private final String fullKey;
    private final RangedGet source;
    private final S3Errors errors;
    private final int maxAttempts;
    private final BackoffStrategy backoff;
    private final String eTag;
    /** The object's size; -1 if unknown. */
    private final long length;
    /** Where reading stops (exclusive); -1: at the end of an object of unknown size. */
    private long end;
    /** Whether GETs ask for bytes up to {@link #end} rather than to the end of the object. */
    private boolean rangeEnd;
    /** The current response; null before the first read of a {@link #range}. */
    private volatile AbortOnEarlyClose in;
    /** Where the current response's body ends (exclusive); -1 if unknown. */
    private long responseEnd;
    private long position;
    private int failuresInARow;
    private volatile boolean aborted;
    private final CountDownLatch abortSignal = new CountDownLatch(1);

    /** Starts the download of {@code key} in {@code bucket} with a GET of the whole object. */
    ResumingDownload(S3Bucket bucket, String key, RangedGet source, int maxAttempts, BackoffStrategy backoff)
            throws IOException {
        this.bucket = bucket;
        this.key = key;
        this.fullKey = bucket.fullKey(key);
        this.source = source;
        this.errors = bucket.errors();
        this.maxAttempts = maxAttempts;
        this.backoff = backoff;
        ResponseInputStream<GetObjectResponse> first = source.get(0, -1, null);
        this.in = new AbortOnEarlyClose(first);
        this.eTag = first.response().eTag();
        Long len = first.response().contentLength();
        this.length = len == null ? -1 : len;
        this.end = length;
        this.responseEnd = length;
    }

    /** Bytes {@code [from, end)} of the object that {@code whole} reads; GETs them on the first read. */
    private ResumingDownload(ResumingDownload whole, long from, long end) {
        this.bucket = whole.bucket;
        this.key = whole.key;
        this.fullKey = whole.fullKey;
        this.source = whole.source;
        this.errors = whole.errors;
        this.maxAttempts = whole.maxAttempts;
        this.backoff = whole.backoff;
        this.eTag = Objects.requireNonNull(whole.eTag, "a range needs the object's ETag");
        this.length = whole.length;
        this.end = end;
        this.rangeEnd = end < length;
        this.position = from;
        this.responseEnd = from;
    }

    /** The object's key, relative to the repository's prefix. */
    String key() {
        return key;
    }

    /** The object's size from the first GET; -1 if the store did not say. */
    long length() {
        return length;
    }

    /** The object's ETag from the first GET; null if the store did not send one. */
    String eTag() {
        return eTag;
    }

    /**
     * A download of bytes {@code [from, end)} of the same object, which GETs them on its first
     * read, conditional on this download's ETag, and resumes the same way.
     */
    ResumingDownload range(long from, long end) {
        if (from < 0 || end <= from || end > length) {
            throw new IllegalArgumentException("range " + from + ".." + end + " of an object of " + length + " bytes");
        }
        return new ResumingDownload(this, from, end);
    }

    /**
     * Stops this download at byte {@code newEnd}: reads end there, a resume asks for bytes up to
     * it only, and close aborts what is left of the current response.
     */
    void endAt(long newEnd) {
        if (newEnd < position || length < 0 || newEnd > length) {
            throw new IllegalArgumentException("end " + newEnd + " outside " + position + ".." + length);
        }
        this.end = newEnd;
        this.rangeEnd = newEnd < length;
    }

    @Override
    public int read() throws IOException {
        byte[] one = readNBytes(1);
        return one.length == 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (len == 0) {
            return 0;
        }
        if (end >= 0 && position >= end) {
            return -1;
        }
        while (true) {
            if (in == null) {
                open();
            }
            try {
                int n = in.read(buf, off, end < 0 ? len : (int) Math.min(len, end - position));
                if (n < 0 && end >= 0 && position < end) {
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
        if (cause instanceof InterruptedIOException || cause instanceof AbortedException || aborted
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
            // abort() ends the pause at once.
            if (abortSignal.await(backoff.computeDelay(failuresInARow).toMillis(), TimeUnit.MILLISECONDS)) {
                throw new InterruptedIOException("read of " + key + " cancelled");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("read of " + key + " interrupted");
            ie.initCause(cause);
            throw ie;
        }
        open();
    }

    /** GETs the bytes from {@link #position} on and checks that the store answered with those. */
    private void open() throws IOException {
        if (aborted) {
            throw new InterruptedIOException("read of " + key + " cancelled");
        }
        ResponseInputStream<GetObjectResponse> r = source.get(position, rangeEnd ? end : -1, eTag);
        AbortOnEarlyClose opened = new AbortOnEarlyClose(r);
        in = opened;
        if (aborted) {
            // abort() ran during the GET and saw the previous response only
            opened.abortQuietly();
            throw new InterruptedIOException("read of " + key + " cancelled");
        }
        Long len = r.response().contentLength();
        long expected = (rangeEnd ? end : length) - position;
        if (len != null && len != expected) {
            // A store that ignores Range sends the whole object: splicing it would corrupt the stream.
            opened.abortQuietly();
            throw new IOException("cannot read s3://" + bucket.name() + "/" + fullKey + ": asked for " + expected
                    + " bytes from byte " + position + ", the store sent " + len + " (does it support ranged GETs?)");
        }
        String got = r.response().eTag();
        if (got != null && !got.equals(eTag)) {
            // If-Match should have prevented this; some stores ignore it.
            opened.abortQuietly();
            throw new IOException("cannot read s3://" + bucket.name() + "/" + fullKey
                    + ": the object changed while it was being read");
        }
        responseEnd = position + expected;
    }

    /**
     * Cancels this download from another thread: aborts the current response's connection, so
     * that a read blocked on it fails at once, and stops any further GET or resume.
     */
    void abort() {
        aborted = true;
        abortSignal.countDown();
        AbortOnEarlyClose current = in;
        if (current != null) {
            // Only the abort: closing the stream here would race with the reading thread.
            current.response.abort();
        }
    }

    @Override
    public void close() throws IOException {
        AbortOnEarlyClose current = in;
        if (current != null) {
            // A response read up to its last byte can go back to the connection pool.
            current.close(responseEnd >= 0 && position >= responseEnd);
        }
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

        /** Closes the response; aborts its connection unless the whole body was read. */
        void close(boolean wholeBodyRead) throws IOException {
            if (!eof && !wholeBodyRead) {
                response.abort();
            }
            super.close();
        }

        @Override
        public void close() throws IOException {
            close(false);
        }
    }
}
