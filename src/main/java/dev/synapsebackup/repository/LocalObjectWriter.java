package dev.synapsebackup.repository;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A write to a {@link LocalRepository}: to a hidden temporary file beside the target; commit =
 * fsync + rename (or, for an exclusive create, a hard link, which fails if the target exists).
 * The metadata sidecar is written before the data file appears (for an exclusive create, only once
 * the target is known to be absent).
 */
final class LocalObjectWriter extends ObjectWriter {
    /**
     * After this many bytes a writer flushes what it has written to disk in the background, so
     * that the disk works while the data is still being produced and the final fsync is short
     * (with much free memory the kernel would otherwise hold it all until that fsync).
     */
    static final long SYNC_EVERY = 32L << 20;
    private static final ExecutorService SYNCER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "local-repository-sync");
        t.setDaemon(true);
        return t;
    });

    private final String key;
    private final Path target;
    private final Path temp;
    private final Map<String, String> metadata;
    private final boolean exclusive;
    private final FileChannel channel;
    private final OutputStream out;
    private boolean done;
    private long unsynced;
    private Future<?> syncing;

    LocalObjectWriter(String key, Path target, Map<String, String> metadata, boolean exclusive) throws IOException {
        this.key = key;
        this.target = target;
        this.metadata = Map.copyOf(metadata);
        this.exclusive = exclusive;
        this.temp = target.resolveSibling(LocalRepository.TEMP_PREFIX + target.getFileName() + "-" + UUID.randomUUID());
        this.channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        this.out = Channels.newOutputStream(channel);
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        unsynced += len;
        if (unsynced >= SYNC_EVERY && (syncing == null || syncing.isDone())) {
            awaitSync(); // reports a failed background fsync (EIO, ENOSPC) here, early
            unsynced = 0;
            syncing = SYNCER.submit(() -> {
                channel.force(false);
                return null;
            });
        }
    }

    /** Waits for the background fsync, if any, and rethrows its failure. */
    private void awaitSync() throws IOException {
        if (syncing == null) {
            return;
        }
        Future<?> f = syncing;
        syncing = null;
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    f.get();
                    return;
                } catch (InterruptedException e) {
                    interrupted = true; // the fsync finishes soon; the file must not be closed under it
                }
            }
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof IOException io ? io : new IOException("cannot write " + key + ": " + c, c);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public ObjectInfo commit() throws IOException {
        if (done) {
            throw new IOException("write of " + key + " already finished");
        }
        try {
            awaitSync();
            channel.force(true);
            channel.close();
            if (exclusive && Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                // Checked before the sidecar is written, so that a refused create leaves the
                // existing object's metadata as it was (the link below still decides a race).
                throw new FileAlreadyExistsException(target.toString());
            }
            if (!metadata.isEmpty()) {
                writeSidecar();
            }
            if (exclusive) {
                // A hard link fails if the target exists: an atomic create-if-absent.
                try {
                    Files.createLink(target, temp);
                } finally {
                    Files.deleteIfExists(temp);
                }
            } else {
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            LocalRepository.fsyncDirectory(target.getParent());
            done = true;
            BasicFileAttributes a = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant(), metadata);
        } finally {
            if (!done) {
                abort();
            }
        }
    }

    private void writeSidecar() throws IOException {
        Path meta = LocalRepository.sidecar(target);
        Path metaTemp = meta.resolveSibling(LocalRepository.TEMP_PREFIX + meta.getFileName() + "-" + UUID.randomUUID());
        Properties props = new Properties();
        props.putAll(metadata);
        try (FileChannel ch = FileChannel.open(metaTemp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             var w = new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8)) {
            props.store(w, null);
            w.flush();
            ch.force(true);
        }
        Files.move(metaTemp, meta, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public void abort() {
        if (done) {
            return;
        }
        done = true;
        try {
            awaitSync();
        } catch (IOException ignored) {
            // the write is being abandoned anyway
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // best effort: the temp file is removed below
        }
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // a leftover hidden temp file is never listed
        }
    }
}
