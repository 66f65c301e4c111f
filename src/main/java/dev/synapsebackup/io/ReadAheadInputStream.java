package dev.synapsebackup.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Reads the wrapped stream on a dedicated thread, ahead of the consumer, so that producing the
 * bytes (download + decryption) and consuming them (tar + SHA-256 + writing files) run on two
 * cores. The mirror of {@link PipelinedOutputStream}.
 *
 * <p>Memory is bounded: {@code buffers} buffers of {@code bufferSize} bytes circulate; the reader
 * thread blocks when the consumer falls behind. A failure of the wrapped stream is rethrown, as
 * it was thrown, by the {@code read} that reaches it (after the bytes read before it). Closing
 * stops the thread and closes the wrapped stream. One consumer thread, as with any InputStream.
 */
public final class ReadAheadInputStream extends InputStream {
    private static final byte[] END = new byte[0];

    private final InputStream in;
    private final BlockingQueue<byte[]> free;
    private final BlockingQueue<Chunk> full;
    private final Thread worker;
    private volatile boolean closed;
    private Chunk current;
    private int pos;
    private boolean ended;

    private record Chunk(byte[] buf, int len, Throwable failure) {
    }

    /**
     * @param in the stream the thread reads
     * @param bufferSize size of each buffer
     * @param buffers number of buffers in flight (at least 2)
     * @param threadName name of the reading thread
     */
    public ReadAheadInputStream(InputStream in, int bufferSize, int buffers, String threadName) {
        this.in = Objects.requireNonNull(in, "in");
        if (bufferSize < 1 || buffers < 2) {
            throw new IllegalArgumentException("need a positive buffer size and at least 2 buffers");
        }
        free = new ArrayBlockingQueue<>(buffers);
        full = new ArrayBlockingQueue<>(buffers + 1);
        for (int i = 0; i < buffers; i++) {
            free.add(new byte[bufferSize]);
        }
        worker = new Thread(this::fill, threadName);
        worker.setDaemon(true);
        worker.start();
    }

    private void fill() {
        try {
            while (!closed) {
                byte[] buf = free.take();
                int len = 0;
                Throwable failure = null;
                boolean eof = false;
                try {
                    while (len < buf.length) {
                        int n = in.read(buf, len, buf.length - len);
                        if (n < 0) {
                            eof = true;
                            break;
                        }
                        len += n;
                    }
                } catch (IOException | RuntimeException | Error e) {
                    failure = e;
                }
                if (len > 0) {
                    full.put(new Chunk(buf, len, null));
                } else {
                    free.add(buf);
                }
                if (failure != null) {
                    full.put(new Chunk(END, 0, failure));
                    return;
                }
                if (eof) {
                    full.put(new Chunk(END, 0, null));
                    return;
                }
            }
        } catch (InterruptedException e) {
            // closed while blocked: nobody reads any more
        }
    }

    private boolean next() throws IOException {
        if (current != null && pos < current.len) {
            return true;
        }
        if (ended) {
            return false;
        }
        if (current != null && current.buf != END) {
            free.add(current.buf);
        }
        try {
            current = full.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading ahead");
        }
        pos = 0;
        if (current.buf == END) {
            ended = true;
            Throwable f = current.failure;
            if (f instanceof IOException io) {
                throw io;
            } else if (f instanceof RuntimeException re) {
                throw re;
            } else if (f instanceof Error err) {
                throw err;
            }
            return false;
        }
        return true;
    }

    @Override
    public int read() throws IOException {
        if (!next()) {
            return -1;
        }
        return current.buf[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        if (!next()) {
            return -1;
        }
        int n = Math.min(len, current.len - pos);
        System.arraycopy(current.buf, pos, b, off, n);
        pos += n;
        return n;
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        worker.interrupt();
        try {
            in.close(); // also ends a read the thread may be blocked in
        } finally {
            try {
                worker.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
