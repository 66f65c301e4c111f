package dev.synapsebackup.synapse;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.ChildEnvironment;
import dev.synapsebackup.io.Sha256;
import java.io.BufferedReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Runs {@code pg_restore} and {@code psql} for a restore: {@code pg_restore --list} to check a
 * dump, and {@code pg_restore -f - | psql} to load one in a single transaction. What they print
 * on stderr reaches messages without row data ({@link #safeStderr}).
 */
final class PgRestoreRunner {
    private static final int COPY_BUFFER = 1 << 16;

    /** A {@code pg_restore --list} line of a large object's entry ({@code BLOB}, {@code BLOBS}, {@code LARGE OBJECT}…). */
    private static final Pattern LARGE_OBJECT_ENTRY =
            Pattern.compile("^\\d+; \\d+ \\d+ (BLOBS?|BLOB METADATA|LARGE OBJECTS?)( .*)?$");

    /** The bytes of pg_restore's {@code BEGIN} line before large objects' data. */
    private static final byte[] LO_BEGIN = "\nBEGIN;\n".getBytes(StandardCharsets.US_ASCII);

    private final PgTools tools;

    /** @param tools where to find {@code pg_restore} and {@code psql} */
    PgRestoreRunner(PgTools tools) {
        this.tools = tools;
    }

    /**
     * Loads the dump in one transaction of one psql session: {@code pg_restore -f -} turns the
     * archive into SQL, which is sent between our {@code BEGIN} (and the move aside) and our
     * {@code COMMIT}; the {@code COMMIT} is sent only when pg_restore has exited 0 and every byte
     * went through. On any failure psql is killed before that, and the server rolls back.
     * Large objects, the only thing pg_restore wraps in its own transaction (whose {@code COMMIT}
     * would commit ours midway), are refused: their {@code BEGIN} line stops the load before the
     * block containing it is sent (Synapse has none, and {@link PostgresDump} leaves them out).
     *
     * @param begin  sent before the dump's script ({@link SchemaSwap#begin})
     * @param commit sent after it, ending in {@code COMMIT} ({@link SchemaSwap#commit})
     * @param hook   called with the bytes of the script sent so far
     * @throws PostgresRestore.OutcomeUnknown the failure came after {@code COMMIT} was sent
     */
    void load(PgSession s, PgTools.Version pgRestore, String dbname, InputStream dump, String begin, String commit,
            PostgresRestore.LoadHook hook) throws IOException {
        ProcessBuilder gb = new ProcessBuilder(pgRestore.path().toString(), "--no-owner", "--no-privileges", "-f", "-");
        ChildEnvironment.scrubForLibpq(gb.environment()).put("LC_ALL", "C");
        ProcessBuilder pb = s.builder(List.of(tools.find("psql").toString(), "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1",
                "-d", s.conninfo(dbname), "-f", "-"));
        pb.environment().put("PGCLIENTENCODING", "UTF8");
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process psql = pb.start();
        PgSession.StderrTail psqlErr = PgSession.StderrTail.start(psql, "psql");
        Process gen = null;
        boolean committed = false;
        boolean commitSent = false;
        try {
            gen = gb.start();
            PgSession.StderrTail genErr = PgSession.StderrTail.start(gen, "pg_restore");
            Process g = gen;
            boolean[] fed = {false};
            IOException[] readFailure = {null};
            Thread feeder = new Thread(() -> {
                try {
                    fed[0] = pump(dump, g.getOutputStream(), null);
                } catch (IOException e) {
                    readFailure[0] = e;
                    g.destroyForcibly();
                }
            }, "pg_restore-feed");
            feeder.setDaemon(true);
            feeder.start();
            OutputStream toPsql = psql.getOutputStream();
            String failure = null;
            try {
                toPsql.write(begin.getBytes(StandardCharsets.UTF_8));
                byte[] buf = new byte[COPY_BUFFER];
                long sent = 0;
                int matched = 1; // bytes of "\nBEGIN;\n" matched; the script starts as after a line break
                try (InputStream sql = gen.getInputStream()) {
                    int n;
                    while ((n = sql.read(buf)) >= 0) {
                        for (int i = 0; i < n; i++) {
                            byte b = buf[i];
                            matched = b == LO_BEGIN[matched] ? matched + 1 : b == '\n' ? 1 : 0;
                            if (matched == LO_BEGIN.length) {
                                // pg_restore's own transaction around large objects: refuse before it is sent
                                throw new IOException(PostgresRestore.LARGE_OBJECTS_REFUSED);
                            }
                        }
                        toPsql.write(buf, 0, n);
                        sent += n;
                        hook.sent(sent);
                    }
                }
            } catch (IOException e) {
                failure = e.getMessage();
                psql.destroyForcibly(); // before pg_restore can finish: no COMMIT may reach the server
                gen.destroyForcibly(); // it may be blocked writing to us
            }
            int genRc = waitFor(gen, () -> rolledBack(s, dbname));
            feeder.join();
            if (failure == null && readFailure[0] != null) {
                throw readFailure[0];
            }
            if (failure == null && genRc != 0) {
                throw new SynapseBackupException("pg_restore could not read the dump (exit code " + genRc + ") for "
                        + s.describe(dbname) + "; nothing was changed: " + genErr.text());
            }
            if (failure == null && !fed[0]) {
                throw new SynapseBackupException("pg_restore stopped reading the dump early for " + s.describe(dbname)
                        + "; nothing was changed: " + genErr.text());
            }
            if (failure == null) {
                try {
                    toPsql.write(commit.getBytes(StandardCharsets.UTF_8));
                    commitSent = true; // (possibly) sent; psql's exit code tells whether it took
                    toPsql.close();
                    committed = true;
                } catch (IOException e) {
                    failure = e.getMessage();
                }
            }
            if (!committed) {
                psql.destroyForcibly();
            }
            int rc = waitFor(psql, commitSent ? () -> commitUnknown(s, dbname) : () -> rolledBack(s, dbname));
            if (rc != 0 || !committed) {
                String err = safeStderr(psqlErr.text());
                String why = (failure != null ? ": " + failure : "")
                        + (err.isBlank() ? "" : " (psql: " + PgSession.oneLine(err) + ")");
                if (commitSent && rc != 3) {
                    // 3: a statement failed, so the server rolled back; otherwise (e.g. the connection was lost
                    // after COMMIT was sent) it may have committed
                    throw new PostgresRestore.OutcomeUnknown(SynapseBackupException.FAILED, "loading the dump into "
                            + s.describe(dbname) + " failed after COMMIT was sent" + why + "; whether it was committed"
                            + " is unknown: check the database before starting Synapse");
                }
                throw new SynapseBackupException("loading the dump into " + s.describe(dbname) + " failed" + why
                        + "; it was rolled back, the database is as it was");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw rolledBack(s, dbname);
        } finally {
            if (!committed) {
                psql.destroyForcibly();
                if (gen != null) {
                    gen.destroyForcibly();
                }
            }
        }
    }

    /** Waits for {@code p}; if interrupted, kills it and throws {@code onInterrupt}'s exception. */
    private static int waitFor(Process p, Supplier<SynapseBackupException> onInterrupt) {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw onInterrupt.get();
        }
    }

    private static SynapseBackupException rolledBack(PgSession s, String dbname) {
        return new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while restoring "
                + s.describe(dbname) + "; it was rolled back");
    }

    /** An interrupt after COMMIT was sent leaves the outcome unknown. */
    private static PostgresRestore.OutcomeUnknown commitUnknown(PgSession s, String dbname) {
        return new PostgresRestore.OutcomeUnknown(SynapseBackupException.INTERRUPTED, "interrupted while restoring "
                + s.describe(dbname) + " after COMMIT was sent: whether it was committed is unknown;"
                + " check the database before starting Synapse");
    }

    /**
     * psql's stderr without row data: the value in {@code CONTEXT: COPY t, line N, column c: "…"}
     * and in {@code DETAIL: Key (…)=(…)} or {@code Failing row contains (…)} is cut.
     */
    static String safeStderr(String err) {
        return err.replaceAll("(?m)^(CONTEXT:\\s+COPY .*?, line \\d+(?:, column [^:\n]*)?):.*$", "$1: …")
                .replaceAll("(?m)^(DETAIL:\\s+Key \\([^\n]*?\\))=\\(.*$", "$1=(…) …")
                .replaceAll("(?m)^(DETAIL:\\s+Failing row contains).*$", "$1 (…).");
    }

    /**
     * Copies {@code in} to the child's stdin; if the child stops reading, keeps reading
     * {@code in} to its end (into the digest only). Returns whether everything reached the child.
     */
    private static boolean pump(InputStream in, OutputStream childIn, MessageDigest sha) throws IOException {
        return pump(in, childIn, sha, true);
    }

    /** {@link #pump(InputStream, OutputStream, MessageDigest)}; without {@code drain}, stops when the child stops reading. */
    private static boolean pump(InputStream in, OutputStream childIn, MessageDigest sha, boolean drain) throws IOException {
        byte[] buf = new byte[COPY_BUFFER];
        boolean open = true;
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (sha != null) {
                    sha.update(buf, 0, n);
                }
                if (open) {
                    try {
                        childIn.write(buf, 0, n);
                    } catch (IOException e) {
                        open = false; // broken pipe: the child has exited or closed stdin
                        if (!drain) {
                            break;
                        }
                    }
                }
            }
        } finally {
            try {
                childIn.close();
            } catch (IOException e) {
                open = false;
            }
        }
        return open;
    }

    /**
     * {@code pg_restore --list} of {@code dump}; with {@code whole}, reads it to its end (else stops
     * when pg_restore has read the table of contents, and {@code bytes}/{@code sha256} cover only
     * what was read).
     */
    PostgresRestore.Listing list(InputStream dump, boolean whole) throws IOException {
        Path exe = tools.find("pg_restore");
        ProcessBuilder pb = new ProcessBuilder(exe.toString(), "--list");
        ChildEnvironment.scrubForLibpq(pb.environment()).put("LC_ALL", "C");
        Process p = pb.start();
        PgSession.StderrTail err = PgSession.StderrTail.start(p, "pg_restore");
        AtomicInteger entries = new AtomicInteger();
        AtomicInteger largeObjects = new AtomicInteger();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (!line.isBlank() && !line.startsWith(";")) {
                        entries.incrementAndGet();
                        if (LARGE_OBJECT_ENTRY.matcher(line).matches()) {
                            largeObjects.incrementAndGet();
                        }
                    }
                }
            } catch (IOException e) {
                // the child went away; its exit code tells
            }
        }, "pg_restore-list");
        reader.setDaemon(true);
        reader.start();
        MessageDigest sha = Sha256.newDigest();
        long[] count = {0};
        InputStream counting = new FilterInputStream(dump) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    count[0] += n;
                }
                return n;
            }
        };
        pump(counting, p.getOutputStream(), sha, whole);
        int rc;
        try {
            rc = p.waitFor();
            reader.join(10_000);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while checking a dump");
        }
        if (rc != 0) {
            String e = err.text();
            if (e.matches("(?s).*unsupported version \\(1\\.\\d+\\).*")) {
                throw new SynapseBackupException("pg_restore (" + exe + ") is older than the pg_dump that made this dump ("
                        + e.strip() + "): install newer PostgreSQL client programs");
            }
            throw new IntegrityException("the PostgreSQL dump is not a readable pg_dump archive (pg_restore --list: "
                    + (e.isBlank() ? "exit code " + rc : PgSession.oneLine(e)) + ")");
        }
        return new PostgresRestore.Listing(entries.get(), count[0], Sha256.hex(sha.digest()), largeObjects.get());
    }
}
