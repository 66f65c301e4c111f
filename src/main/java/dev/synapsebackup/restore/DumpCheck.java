package dev.synapsebackup.restore;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.synapse.PostgresRestore;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Checks a PostgreSQL dump while its chunks stream past during {@code verify}: the chunks are fed,
 * in order, to {@code pg_restore --list} through a pipe, which also hashes their concatenation;
 * at the end that must match the manifest's {@code dump-bytes} and {@code dump-sha256}. Nothing
 * is written to disk.
 */
final class DumpCheck {
    private final List<String> entries;
    private final long bytes;
    private final String sha256;
    private PipedOutputStream pipe;
    private FutureTask<PostgresRestore.Listing> listing;
    private Thread thread;

    private DumpCheck(List<String> entries, long bytes, String sha256) {
        this.entries = entries;
        this.bytes = bytes;
        this.sha256 = sha256;
    }

    /** A check for the manifest's dump, or null if the backup holds no PostgreSQL dump. */
    static DumpCheck of(ManifestSummary s) {
        if (!(s.database() instanceof DatabaseRecord.Postgres pg)) {
            return null;
        }
        return new DumpCheck(pg.dumpEntries(), pg.dumpBytes(), pg.dumpSha256());
    }

    /** Whether a reserved entry is one of the dump's chunks. */
    boolean isChunk(String name) {
        return entries.contains(name);
    }

    /** The chunk's content, copied into pg_restore as it is read. */
    InputStream tee(InputStream content) throws IOException {
        if (pipe == null) {
            PipedInputStream in = new PipedInputStream(1 << 20);
            pipe = new PipedOutputStream(in);
            listing = new FutureTask<>(() -> new PostgresRestore().listDump(in));
            thread = new Thread(listing, "pg_restore-list");
            thread.setDaemon(true);
            thread.start();
        }
        PipedOutputStream out = pipe;
        return new FilterInputStream(content) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    out.write(b);
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    out.write(b, off, n);
                }
                return n;
            }
        };
    }

    /** Ends the feed and compares; returns problems (empty when the dump is intact). */
    List<String> finish() {
        if (pipe == null) {
            return List.of("the PostgreSQL dump's chunks are missing from the archive");
        }
        try {
            pipe.close();
            PostgresRestore.Listing l = listing.get();
            if (l.bytes() != bytes || !l.sha256().equalsIgnoreCase(sha256)) {
                return List.of("the PostgreSQL dump (" + l.bytes() + " bytes) differs from the manifest's dump-bytes/dump-sha256");
            }
            return List.of();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IntegrityException ie) {
                return List.of(ie.getMessage());
            }
            if (c instanceof SynapseBackupException se) {
                throw se; // pg_restore missing: say so rather than call the backup corrupt
            }
            throw new SynapseBackupException("cannot check the PostgreSQL dump: " + c, c);
        } catch (IOException e) {
            throw new SynapseBackupException("cannot check the PostgreSQL dump: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted");
        }
    }
}
