package dev.synapsebackup.repository;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bytes of one S3 object, fetched as consecutive ranges with up to {@code parallelism} ranged
 * GETs at once and handed out strictly in order: one S3 stream across a WAN is limited well below
 * the link, and the reader (decryption, then the tar) must see the object sequentially.
 *
 * <p>The first GET of the whole object, which tells the size and the ETag, also serves the first
 * range; its connection is aborted at the end of that range. Every other range is a GET
 * conditional on that ETag, and each resumes after a cut like a whole download
 * ({@link ResumingDownload#range}).
 *
 * <p>Memory: at most {@code parallelism + 1} range buffers exist, the one being read and those
 * being fetched; a range is requested only once the reader has come within {@code parallelism}
 * ranges of it, and buffers are reused.
 *
 * <p>A failure of any range fails the reads with that range's own error (worded by
 * {@link S3Errors}) and cancels the other GETs. {@link #close()}, at any point, aborts the
 * connections of the GETs in flight (rather than draining them) and ends the threads, which are
 * this stream's own. One thread reads; it may be interrupted while it waits for a range.
 */
final class ParallelRangeDownload extends InputStream {
    /**
     * Range size unless configured: small enough that twelve ranges in flight stay within the
     * memory target (thirteen buffers, 52 MiB), large enough that a GET's own cost (a few
     * milliseconds of the client's CPU, one round trip) stays small beside its transfer. On a
     * fast store the first GET usually serves the whole object and no range is fetched at all.
     */
    static final long DEFAULT_PART_SIZE = 4L * 1024 * 1024;
    /**
     * Ranged GETs at once unless configured. One S3 stream across a WAN carries tens of MB/s;
     * the throughput of a restore there grows with the streams until the CPU is the limit:
     * four streams of 8 MiB, twelve of 4 MiB and the charm's ten (`aws s3 cp`) compared in
     * bench/results/2026-12-02-i19-parallelism.md.
     */
    static final int DEFAULT_PARALLELISM = 12;
    /**
     * The shortest span over which the reader's waiting is judged. On a busy machine a reader of
     * a fast store still waits whenever the store's thread is not scheduled, a few milliseconds
     * at a time; over a range's worth of a fast stream (a few milliseconds too) that looked like
     * a slow network and started ranges that only cost CPU there.
     */
    static final long DECISION_WINDOW_NANOS = 100_000_000L;
    private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

    /**
     * How a repository reads large objects.
     *
     * @param parallelism ranged GETs of one object at once (1: one GET per object)
     * @param partSize    bytes per range
     * @param streamFirst  read the first GET on for as long as the network keeps ahead of the
     *                     reader, and only then GET ranges (false: ranges from the first range on)
     * @param waitingShare with {@code streamFirst}: ranges take over once the reader has spent at
     *                     least this share of the time of a range's worth (or more, see
     *                     {@link #DECISION_WINDOW_NANOS}) waiting for the first GET
     *                     (0: after the first range; above 1: never)
     */
    record Downloads(int parallelism, long partSize, boolean streamFirst, double waitingShare) {
    }

    /**
     * The default {@link Downloads#waitingShare}. Each GET costs a cold JVM a few milliseconds of
     * CPU, and a restore reading one stream from a fast store (a LAN, loopback) is bound by CPU,
     * not by the network: one GET is cheapest there. Across a WAN one stream is slow, and the
     * reader waits most of the time.
     */
    static final double WAITING_SHARE = 0.5;

    /** One range: fetched by a worker into {@link #buffer}, then read by the reader. */
    private static final class Part {
        final long from;
        final int size;
        final ResumingDownload download;
        byte[] buffer;
        boolean done;

        Part(long from, int size, ResumingDownload download) {
            this.from = from;
            this.size = size;
            this.download = download;
        }
    }

    private final ResumingDownload whole;
    private final String key;
    private final long length;
    private final long partSize;
    private final int parallelism;
    private final double waitingShare;
    private final ThreadPoolExecutor executor;

    /** Guards everything below. */
    private final Object lock = new Object();
    /** The parts requested and not yet read, in order; the head is the one being read. */
    private final ArrayDeque<Part> window = new ArrayDeque<>();
    private final ArrayDeque<byte[]> freeBuffers = new ArrayDeque<>();
    private long nextFrom;
    private int offsetInHead;
    private Throwable failure;
    private boolean closed;
    private int allocatedBuffers;
    private final byte[] oneByte = new byte[1];

    // The reader's alone: reading the first GET directly (streaming), how far (streamed), and
    // how long the current range's worth of it took and waited.
    private volatile boolean streaming;
    private boolean rangesStarted;
    private long streamed;
    private long chunkStart;
    private long chunkWaited;
    private long chunkBytes;

    /**
     * {@code whole} itself if it need not or cannot be read in ranges (no larger than one range,
     * a single GET configured, or no size or no ETag to make ranges safe), else a parallel
     * download that starts with it.
     */
    static InputStream of(ResumingDownload whole, Downloads downloads) {
        long length = whole.length();
        if (downloads.parallelism() <= 1 || length <= downloads.partSize() || whole.eTag() == null) {
            return whole;
        }
        return new ParallelRangeDownload(whole, downloads);
    }

    private ParallelRangeDownload(ResumingDownload whole, Downloads downloads) {
        this.whole = whole;
        this.key = whole.key();
        this.length = whole.length();
        this.partSize = downloads.partSize();
        this.parallelism = downloads.parallelism();
        this.waitingShare = downloads.waitingShare();
        this.executor = new ThreadPoolExecutor(parallelism, parallelism, 10, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "s3-download-" + THREAD_NUMBER.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        // Idle threads end by themselves if the reader forgets to close.
        executor.allowCoreThreadTimeOut(true);
        synchronized (lock) {
            if (downloads.streamFirst()) {
                streaming = true;
                nextFrom = length; // no range until the reader finds the first GET slow
                chunkStart = System.nanoTime();
            } else {
                whole.endAt(Math.min(length, partSize));
                request(new Part(0, (int) Math.min(length, partSize), whole));
                nextFrom = Math.min(length, partSize);
                requestMore();
            }
        }
    }

    /**
     * Reads the first GET directly; -1 once it has ended (at the end of the object, or where
     * the ranges start). After each range's worth that took at least
     * {@link #DECISION_WINDOW_NANOS}, if the reader waited for at least
     * {@link Downloads#waitingShare} of that time, the first GET is ended at the next range
     * boundary and the ranges after it are requested, to be read once it ends.
     */
    private int readStreaming(byte[] buf, int off, int len) throws IOException {
        long t0 = System.nanoTime();
        int n;
        try {
            n = whole.read(buf, off, len);
        } catch (IOException e) {
            synchronized (lock) {
                if (failure != null) {
                    throw rethrow(failure); // a range failed first, and its failure aborted this GET
                }
            }
            throw e;
        }
        long t1 = System.nanoTime();
        if (n < 0) {
            streaming = false;
            whole.close();
            return -1;
        }
        streamed += n;
        chunkWaited += t1 - t0;
        chunkBytes += n;
        // waitingShare 0 (tests) decides after the first range, whatever the time
        if (!rangesStarted && chunkBytes >= partSize
                && (waitingShare == 0 || t1 - chunkStart >= DECISION_WINDOW_NANOS)) {
            // the ranges start at the next range boundary, which the first GET still serves up to
            long from = (streamed / partSize + 1) * partSize;
            if (waitingShare <= 1 && chunkWaited >= (t1 - chunkStart) * waitingShare && from < length) {
                rangesStarted = true;
                whole.endAt(from);
                synchronized (lock) {
                    nextFrom = from;
                    requestMore();
                }
            }
            chunkStart = t1;
            chunkWaited = 0;
            chunkBytes = 0;
        }
        return n;
    }

    /** Requests the next parts while the window has room (called holding the lock). */
    private void requestMore() {
        while (nextFrom < length && window.size() <= parallelism && failure == null && !closed) {
            int size = (int) Math.min(partSize, length - nextFrom);
            request(new Part(nextFrom, size, whole.range(nextFrom, nextFrom + size)));
            nextFrom += size;
        }
    }

    private void request(Part p) {
        window.add(p);
        try {
            executor.execute(() -> fetch(p));
        } catch (RejectedExecutionException e) {
            // Only after close or a failure, which shut the executor down.
            p.download.abort();
        }
    }

    /** A worker: reads one range into a buffer, or records why it could not. */
    private void fetch(Part p) {
        synchronized (lock) {
            if (closed || failure != null) {
                return;
            }
        }
        try {
            byte[] buffer = takeBuffer();
            int n = p.download.readNBytes(buffer, 0, p.size);
            if (n != p.size) {
                throw new IOException("premature end of the object after " + (p.from + n) + " of " + length + " bytes");
            }
            p.download.close();
            synchronized (lock) {
                p.buffer = buffer;
                p.done = true;
                lock.notifyAll();
            }
        } catch (Throwable t) {
            p.download.abort();
            fail(t);
        }
    }

    /** A free buffer, or a new one: there are never more than parts in the window. */
    private byte[] takeBuffer() {
        synchronized (lock) {
            byte[] b = freeBuffers.poll();
            if (b != null) {
                return b;
            }
            allocatedBuffers++;
        }
        return new byte[(int) Math.min(partSize, length)];
    }

    /** Records the first failure and cancels every other GET. */
    private void fail(Throwable t) {
        synchronized (lock) {
            if (failure != null || closed) {
                return;
            }
            failure = t;
            lock.notifyAll();
        }
        cancel();
    }

    /**
     * Aborts every GET in flight and lets the workers end. They are not interrupted: the SDK
     * answers an interrupt that comes with a response by closing it, which drains the body (and
     * logs an error when the connection was aborted already).
     */
    private void cancel() {
        List<Part> parts;
        synchronized (lock) {
            parts = new ArrayList<>(window);
        }
        if (streaming) {
            whole.abort();
        }
        executor.shutdown();
        for (Part p : parts) {
            p.download.abort();
        }
    }

    @Override
    public int read() throws IOException {
        int n = read(oneByte, 0, 1);
        return n < 0 ? -1 : oneByte[0] & 0xff;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (len == 0) {
            // Without waiting: readNBytes asks for 0 bytes once it has all it wanted.
            return 0;
        }
        if (streaming) {
            synchronized (lock) {
                throwIfUnusable();
            }
            int n = readStreaming(buf, off, len);
            if (n >= 0) {
                return n;
            }
        }
        Part head;
        synchronized (lock) {
            head = awaitHead();
            if (head == null) {
                return -1;
            }
        }
        // The head's buffer is the reader's alone until it is released below.
        int n = Math.min(len, head.size - offsetInHead);
        System.arraycopy(head.buffer, offsetInHead, buf, off, n);
        offsetInHead += n;
        if (offsetInHead == head.size) {
            synchronized (lock) {
                window.poll();
                freeBuffers.add(head.buffer);
                head.buffer = null;
                offsetInHead = 0;
                requestMore();
                if (window.isEmpty()) {
                    executor.shutdown();
                }
            }
        }
        return n;
    }

    /** The part to read from, once fetched; null at the end (called holding the lock). */
    private Part awaitHead() throws IOException {
        while (true) {
            throwIfUnusable();
            Part head = window.peek();
            if (head == null || head.done) {
                return head;
            }
            try {
                lock.wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("read of " + key + " interrupted");
            }
        }
    }

    /** After close or a failure, what a read throws (called holding the lock). */
    private void throwIfUnusable() throws IOException {
        if (closed) {
            throw new IOException("read of " + key + " after close");
        }
        if (failure != null) {
            throw rethrow(failure);
        }
    }

    /** A worker's failure, to throw in the reader: the same exception, so that its type and words stay. */
    private static IOException rethrow(Throwable t) {
        if (t instanceof IOException io) {
            return io;
        }
        if (t instanceof UncheckedIOException u) {
            return u.getCause();
        }
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IOException(t);
    }

    @Override
    public int available() {
        synchronized (lock) {
            Part head = window.peek();
            return head != null && head.done && !closed ? head.size - offsetInHead : 0;
        }
    }

    /** How many range buffers this download has allocated, which is the most it held at once (for tests). */
    int allocatedBuffers() {
        synchronized (lock) {
            return allocatedBuffers;
        }
    }

    /**
     * Aborts the GETs in flight and waits briefly for the threads to end: a thread still waiting
     * for a response's headers, or in the SDK's pause between two attempts, cannot be woken; it
     * ends as soon as the store answers, aborting that response.
     */
    @Override
    public void close() throws IOException {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            lock.notifyAll();
        }
        cancel();
        try {
            executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lock) {
            window.clear();
            freeBuffers.clear();
        }
    }
}
