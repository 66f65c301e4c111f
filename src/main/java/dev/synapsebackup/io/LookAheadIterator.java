package dev.synapsebackup.io;

import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * An iterator whose subclass only says what comes next: {@link #advance()} returns the next
 * element or null at the end, and is not called again once it has returned null. Elements are
 * therefore never null.
 *
 * @param <T> the element type
 */
public abstract class LookAheadIterator<T> implements Iterator<T> {
    private T next;
    private boolean done;

    /** The next element, or null if there is none. */
    protected abstract T advance();

    @Override
    public final boolean hasNext() {
        if (next == null && !done) {
            next = advance();
            done = next == null;
        }
        return next != null;
    }

    @Override
    public final T next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        T r = next;
        next = null;
        return r;
    }
}
