package dev.synapsebackup.io;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Hands what is written to it to a dedicated thread that writes it to the wrapped stream, so that
 * the producer (tar + SHA-256) and the consumer (encryption + MDC + upload) run on two cores.
 *
 * <p>Memory is bounded: {@code buffers} buffers of {@code bufferSize} bytes circulate between the
 * two threads; a writer that gets ahead blocks until a buffer is free. A failure of the wrapped
 * stream is rethrown (as an IOException with it as the cause) by the next {@code write},
 * {@code flush} or {@code close}. {@link #flush()} waits until everything written so far has
 * been written to and flushed on the wrapped stream; {@link #close()} does the same, stops the
 * thread and closes the wrapped stream.
 *
 * <p>After a failure on the producer's side, call {@link #cancel()} before tearing down the
 * wrapped stream (for example aborting an upload): it discards what is queued and waits until
 * the thread no longer touches the wrapped stream. Not thread-safe on the producer's side: one
 * producer thread, as with any OutputStream.
 */
public final class PipelinedOutputStream extends OutputStream {
    private static final byte[] END = new byte[0];
    private static final byte[] FLUSH = new byte[0];

    private final OutputStream out;
    private final BlockingQueue<byte[]> free;
    private final BlockingQueue<Chunk> full;
    private final Thread worker;
    private final Object progress = new Object();
    private byte[] current;
    private int pos;
    private long submitted;
    private long done;          // guarded by progress
    private volatile Throwable failure;
    private volatile boolean cancelled;
    private boolean closed;

    private record Chunk(byte[] buf, int len) {
    }

    /**
     * @param out the stream the thread writes to
     * @param bufferSize size of each buffer (also the size of the writes the wrapped stream sees)
     * @param buffers number of buffers in flight (at least 2)
     * @param threadName name of the writing thread
     */
    public PipelinedOutputStream(OutputStream out, int bufferSize, int buffers, String threadName) {
        this.out = Objects.requireNonNull(out, "out");
        if (bufferSize < 1 || buffers < 2) {
            throw new IllegalArgumentException("need a positive buffer size and at least 2 buffers");
        }
        free = new ArrayBlockingQueue<>(buffers);
        full = new ArrayBlockingQueue<>(buffers + 2);
        for (int i = 0; i < buffers; i++) {
            free.add(new byte[bufferSize]);
        }
        worker = new Thread(this::drain, threadName);
        worker.setDaemon(true); // an abandoned stream must not keep the JVM alive
        worker.start();
    }

    private void drain() {
        try {
            while (true) {
                Chunk c = full.take();
                try {
                    if (c.buf == END) {
                        return;
                    }
                    if (failure == null && !cancelled) {
                        if (c.buf == FLUSH) {
                            out.flush();
                        } else {
                            out.write(c.buf, 0, c.len);
                        }
                    }
                } catch (IOException | RuntimeException | Error e) {
                    failure = e; // keep draining so that the producer never blocks for ever
                } finally {
                    if (c.buf != FLUSH && c.buf != END) {
                        free.add(c.buf);
                    }
                    synchronized (progress) {
                        done++;
                        progress.notifyAll();
                    }
                }
            }
        } catch (InterruptedException e) {
            failure = e;
        }
    }

    @Override
    public void write(int b) throws IOException {
        ensureBuffer();
        current[pos++] = (byte) b;
        if (pos == current.length) {
            submitCurrent();
        }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        while (len > 0) {
            ensureBuffer();
            int n = Math.min(len, current.length - pos);
            System.arraycopy(b, off, current, pos, n);
            pos += n;
            off += n;
            len -= n;
            if (pos == current.length) {
                submitCurrent();
            }
        }
    }

    /** Waits until everything written so far has been written to and flushed on the wrapped stream. */
    @Override
    public void flush() throws IOException {
        checkOpen();
        submitCurrent();
        put(new Chunk(FLUSH, 0));
        awaitDone();
    }

    /**
     * Writes out what is left, stops the thread and closes the wrapped stream. If the wrapped
     * stream failed, throws that failure and leaves it unclosed (closing it could finish a
     * half-written message as if it were whole).
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            flush();
        } finally {
            closed = true;
            stopWorker();
        }
        out.close();
    }

    /**
     * Discards whatever has not been written yet and waits until the thread has stopped using the
     * wrapped stream (which is left open). Idempotent; the stream is closed afterwards.
     */
    public void cancel() {
        cancelled = true;
        closed = true;
        full.clear();
        stopWorker();
    }

    private void stopWorker() {
        if (!worker.isAlive()) {
            return;
        }
        boolean interrupted = false;
        while (!full.offer(new Chunk(END, 0))) {
            full.clear(); // only after a failure or cancel: what is queued will not be written
        }
        while (true) {
            try {
                worker.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the thread must be gone before the caller touches the target
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void ensureBuffer() throws IOException {
        checkOpen();
        if (current == null) {
            try {
                current = free.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the writing thread");
            }
            pos = 0;
        }
    }

    private void submitCurrent() throws IOException {
        if (current != null && pos > 0) {
            put(new Chunk(current, pos));
            current = null;
            pos = 0;
        }
    }

    private void put(Chunk c) throws IOException {
        checkFailure();
        try {
            full.put(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while handing data to the writing thread");
        }
        submitted++;
    }

    private void awaitDone() throws IOException {
        synchronized (progress) {
            while (done < submitted && failure == null) {
                try {
                    progress.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for the writing thread");
                }
            }
        }
        checkFailure();
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("stream closed");
        }
        checkFailure();
    }

    private void checkFailure() throws IOException {
        Throwable f = failure;
        if (f != null) {
            if (f instanceof IOException io) {
                throw new IOException(io.getMessage(), io);
            }
            throw new IOException("writing thread failed: " + f, f);
        }
    }
}
