package dev.synapsebackup.io;

import dev.synapsebackup.SynapseBackupException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the wrapped iterator on a dedicated thread, ahead of the consumer, so that producing the
 * elements (the media walk: a readdir and an lstat per entry) and consuming them (comparing with
 * the parent's manifest, writing the new one, archiving) run on two cores. The iterator
 * counterpart of {@link ReadAheadInputStream}.
 *
 * <p>Memory is bounded: at most {@code batches} batches of {@code batchSize} elements are waiting;
 * the thread blocks when the consumer falls behind. Elements travel in batches, so that the two
 * threads do not hand over (and wake each other) once per element. A failure of the wrapped
 * iterator is rethrown, as it was thrown, by the {@code hasNext} or {@code next} that reaches it
 * (after the elements produced before it); an interrupt of the consumer while it waits is a
 * {@link SynapseBackupException} with exit code 130. {@link #close()} stops the thread. One consumer
 * thread.
 *
 * @param <T> the element type
 */
public final class ReadAheadIterator<T> implements Iterator<T>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReadAheadIterator.class);
    private static final long CLOSE_PATIENCE_NANOS = 10_000_000_000L;
    private final BlockingQueue<Batch<T>> full;
    private final Thread worker;
    private volatile boolean closed;
    private Batch<T> current;
    private int pos;

    /** Elements, then (in the last batch only) the end of the iteration or its failure. */
    private record Batch<T>(List<T> elements, boolean last, Throwable failure) {
    }

    /**
     * @param source     the iterator the thread runs (used by that thread only from now on)
     * @param batchSize  elements per batch
     * @param batches    batches that may wait for the consumer (at least 1)
     * @param threadName name of the thread
     */
    public ReadAheadIterator(Iterator<T> source, int batchSize, int batches, String threadName) {
        Objects.requireNonNull(source, "source");
        if (batchSize < 1 || batches < 1) {
            throw new IllegalArgumentException("need a positive batch size and at least 1 batch");
        }
        full = new ArrayBlockingQueue<>(batches);
        worker = new Thread(() -> fill(source, batchSize), threadName);
        worker.setDaemon(true);
        worker.start();
    }

    private void fill(Iterator<T> source, int batchSize) {
        List<T> batch = new ArrayList<>(batchSize);
        try {
            while (!closed && source.hasNext()) {
                batch.add(source.next());
                if (batch.size() == batchSize) {
                    full.put(new Batch<>(batch, false, null));
                    batch = new ArrayList<>(batchSize);
                }
            }
            full.put(new Batch<>(batch, true, null));
        } catch (InterruptedException e) {
            // closed: nobody reads any more
        } catch (Throwable e) { // whatever ends the walk must reach the consumer, or it waits forever
            try {
                full.put(new Batch<>(batch, true, e));
            } catch (InterruptedException closedMeanwhile) {
                // nobody reads any more
            }
        }
    }

    @Override
    public boolean hasNext() {
        if (closed) {
            throw new IllegalStateException("read-ahead iterator is closed");
        }
        while (current == null || pos == current.elements().size()) {
            if (current != null && current.last()) {
                Throwable failure = current.failure();
                if (failure instanceof RuntimeException re) {
                    throw re;
                }
                if (failure instanceof Error err) {
                    throw err;
                }
                if (failure != null) {
                    throw new IllegalStateException(failure.toString(), failure);
                }
                return false;
            }
            try {
                current = full.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SynapseBackupException(SynapseBackupException.INTERRUPTED,
                        "interrupted while waiting for " + worker.getName());
            }
            pos = 0;
        }
        return true;
    }

    @Override
    public T next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return current.elements().get(pos++);
    }

    /**
     * Stops the thread (if it is still producing) and waits for it to end, at most 10 s: a thread stuck in a system call (a hung network file system) is
     * left behind, as a daemon, rather than holding up the clean-up of the run that closes it.
     */
    @Override
    public void close() {
        closed = true;
        worker.interrupt();
        full.clear(); // unblocks a put
        boolean interrupted = false;
        long deadline = System.nanoTime() + CLOSE_PATIENCE_NANOS;
        while (worker.isAlive()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                LOG.warn("{} did not stop within {} s; leaving it behind", worker.getName(),
                        CLOSE_PATIENCE_NANOS / 1_000_000_000L);
                break;
            }
            try {
                worker.join(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        full.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
