package dev.synapsebackup.repository;

import java.io.IOException;
import java.io.OutputStream;

/**
 * A streaming write of one object. Bytes written are not visible under the key until
 * {@link #commit()} returns; {@link #close()} without a successful commit aborts the write and
 * leaves nothing behind (no object, no temporary file, no incomplete multipart upload), so a
 * try-with-resources block around a failing pipeline cleans up by itself.
 */
public abstract class ObjectWriter extends OutputStream {
    /**
     * Finishes the write and makes the object visible under its key, atomically.
     *
     * @return the stored object
     * @throws IOException if the object could not be stored; nothing is left behind then
     */
    public abstract ObjectInfo commit() throws IOException;

    /** Discards everything written so far. Idempotent; a no-op after a successful commit. */
    public abstract void abort();

    /** Aborts unless {@link #commit()} succeeded. */
    @Override
    public void close() {
        abort();
    }
}
