package dev.synapsebackup.synapse;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.SynapseBackupException;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * How the tool talks to one PostgreSQL server through libpq's own programs (so that every
 * libpq connection form Synapse accepts — Unix socket directories, {@code sslmode}, … — works
 * the same for the checks, {@code pg_dump} and {@code pg_restore}).
 *
 * <p>The password never reaches a command line: it is written to a temporary passfile (mode
 * 0600, deleted by {@link #close()}) named by {@code PGPASSFILE} in the child's environment,
 * and an inherited {@code PGPASSWORD}, which libpq would prefer, is removed. Children get
 * {@code LC_ALL=C} so that libpq's messages are in English and can be told apart.
 */
final class PgSession implements Closeable {
    /** Field separator of {@link #query} output: ASCII unit separator, never in names we read. */
    private static final String FS = "\u001f";
    private static final int TAIL_BYTES = 4096;

    private final DatabaseConfig.Postgres db;
    private final PgTools tools;
    private final Path passFile;
    /** OS user the client programs run as ({@code runuser -u}, peer authentication), or {@code null}. */
    private final String runAs;

    PgSession(DatabaseConfig.Postgres db, PgTools tools, Path tempDir) {
        this(db, tools, tempDir, null);
    }

    /**
     * @param runAs OS user to run the client programs as (the tool runs as root), for peer
     *              authentication over the local socket; {@code null} for the tool's own user
     */
    PgSession(DatabaseConfig.Postgres db, PgTools tools, Path tempDir, String runAs) {
        this.db = db;
        this.tools = tools;
        this.runAs = runAs;
        this.passFile = db.password() == null ? null : writePassFile(db, tempDir);
    }

    private static Path writePassFile(DatabaseConfig.Postgres db, Path tempDir) {
        char[] pw = db.password().reveal();
        try {
            for (char c : pw) {
                if (c == '\n' || c == '\r' || c == 0) {
                    throw new ConfigException("the PostgreSQL password in homeserver.yaml (database.args.password)"
                            + " contains a line break or NUL character, which libpq cannot take");
                }
            }
            StringBuilder line = new StringBuilder("*:*:*:*:");
            for (char c : pw) {
                if (c == '\\' || c == ':') {
                    line.append('\\');
                }
                line.append(c);
            }
            line.append('\n');
            // The caller's temp directory, else the run's work directory: a killed run's passfile
            // is removed by the next run.
            Path dir = tempDir != null ? tempDir : dev.synapsebackup.io.WorkDir.get();
            Path f = Files.createTempFile(dir, "synapse-backup-pgpass-", "",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            byte[] bytes = line.toString().getBytes(StandardCharsets.UTF_8);
            try {
                Files.write(f, bytes);
            } finally {
                Arrays.fill(bytes, (byte) 0);
                line.setLength(0);
            }
            return f;
        } catch (IOException e) {
            throw new SynapseBackupException("cannot write a temporary PostgreSQL passfile: " + e.getMessage(), e);
        } finally {
            Arrays.fill(pw, '\0');
        }
    }

    PgTools tools() {
        return tools;
    }

    DatabaseConfig.Postgres config() {
        return db;
    }

    /** A libpq connection string for {@code dbname} (without any password). */
    String conninfo(String dbname) {
        StringBuilder sb = new StringBuilder();
        if (db.host() != null) {
            kv(sb, "host", db.host());
        }
        kv(sb, "port", Integer.toString(db.port()));
        if (db.user() != null) {
            kv(sb, "user", db.user());
        }
        if (dbname != null) {
            kv(sb, "dbname", dbname);
        }
        for (Map.Entry<String, String> e : db.otherArgs().entrySet()) {
            if (e.getKey().equals("sslpassword")) {
                // It would have to go on psql's command line (visible in ps): libpq takes it from nowhere else.
                throw new ConfigException("homeserver.yaml's database.args.sslpassword is not supported:"
                        + " it would be visible to other users in the PostgreSQL client's command line; use a client key"
                        + " without a passphrase (readable only by Synapse's user and root) instead");
            }
            if (!e.getKey().equals("passfile") && !e.getKey().equals("password")) {
                kv(sb, e.getKey(), e.getValue());
            }
        }
        return sb.toString();
    }

    private static void kv(StringBuilder sb, String k, String v) {
        if (sb.length() > 0) {
            sb.append(' ');
        }
        sb.append(k).append("='").append(v.replace("\\", "\\\\").replace("'", "\\'")).append('\'');
    }

    /** "database "x" on host:port as user u", for messages. */
    String describe(String dbname) {
        String server = db.host() == null ? "the local PostgreSQL socket, port " + db.port()
                : db.host().startsWith("/") ? "PostgreSQL socket " + db.host() + ", port " + db.port()
                : "PostgreSQL server " + db.host() + ":" + db.port();
        return "database \"" + (dbname == null ? "(default)" : dbname) + "\" on " + server
                + (db.user() == null ? "" : " as user \"" + db.user() + "\"")
                + (runAs == null ? "" : " (client run as OS user \"" + runAs + "\")");
    }

    /** A process builder for a libpq program with this session's environment. */
    ProcessBuilder builder(List<String> command) {
        List<String> full = command;
        if (runAs != null) {
            full = new ArrayList<>(List.of("runuser", "-u", runAs, "--"));
            full.addAll(command);
        }
        ProcessBuilder pb = new ProcessBuilder(full);
        if (runAs != null) {
            pb.directory(new java.io.File("/")); // the tool's working directory may be closed to that user
        }
        Map<String, String> env = dev.synapsebackup.config.ChildEnvironment.scrubForLibpq(pb.environment());
        if (passFile != null) {
            env.remove("PGPASSWORD");
            env.put("PGPASSFILE", passFile.toString());
        }
        env.remove("PGCLIENTENCODING");
        env.remove("LANGUAGE");
        env.put("LC_ALL", "C");
        env.putIfAbsent("PGCONNECT_TIMEOUT", "15"); // an unreachable host fails instead of hanging
        env.putIfAbsent("PGAPPNAME", "synapse-backup");
        return pb;
    }

    /**
     * Runs {@code sql} with psql on {@code dbname} and returns its rows (fields split on the unit
     * separator). Fails with a message that names the cause (see {@link #failure}).
     */
    List<String[]> query(String dbname, String sql) {
        List<String> cmd = List.of(tools.find("psql").toString(), "-X", "-q", "-A", "-t", "-w",
                "-v", "ON_ERROR_STOP=1", "-F", FS, "-d", conninfo(dbname), "-c", sql);
        ProcessBuilder pb = builder(cmd);
        pb.environment().put("PGCLIENTENCODING", "UTF8");
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        try {
            Process p = pb.start();
            StderrTail err = StderrTail.start(p, "psql");
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes(); // our queries return a handful of short rows
            }
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new SynapseBackupException("psql on " + describe(dbname) + " did not finish within 5 minutes");
            }
            int rc = p.exitValue();
            if (rc != 0) {
                throw failure("psql", dbname, rc, err.text());
            }
            List<String[]> rows = new ArrayList<>();
            for (String line : new String(out, StandardCharsets.UTF_8).split("\n")) {
                if (!line.isEmpty()) {
                    rows.add(line.split(FS, -1));
                }
            }
            return rows;
        } catch (IOException e) {
            throw new SynapseBackupException("cannot run psql for " + describe(dbname) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while querying " + describe(dbname));
        }
    }

    /**
     * A failure of a libpq program, with a message naming the cause where libpq's message tells
     * it: authentication, an unreachable server, a missing database, a client older than the
     * server. All are exit 1 ("operation failed"): exit 3 is for the backup repository.
     */
    SynapseBackupException failure(String program, String dbname, int exitCode, String stderr) {
        String where = describe(dbname);
        String detail = stderr.isBlank() ? "" : " (" + program + ": " + oneLine(stderr) + ")";
        String s = stderr.toLowerCase(Locale.ROOT);
        String msg;
        if (s.contains("password authentication failed") || s.contains("no password supplied")
                || s.contains("authentication failed") || s.contains("no pg_hba.conf entry")
                || s.contains("role \"") && s.contains("does not exist")) {
            msg = "PostgreSQL authentication failed for " + where
                    + ": check user and password in homeserver.yaml's database.args";
        } else if (s.contains("server version mismatch") || s.matches("(?s).*unsupported version \\(1\\.\\d+\\).*")) {
            msg = program + " (" + tools.find(program) + ") is older than the PostgreSQL server or dump of " + where
                    + ": install the PostgreSQL client programs of the server's version or newer";
        } else if (s.contains("database \"") && s.contains("does not exist")) {
            msg = "PostgreSQL " + where + " does not exist";
        } else if (s.contains("could not connect") || s.contains("connection refused") || s.contains("could not translate host name")
                || s.contains("timeout expired") || s.contains("no route to host") || s.contains("network is unreachable")
                || s.contains("connection to server") && s.contains("failed")) {
            msg = "cannot reach the PostgreSQL server for " + where;
        } else if (s.contains("permission denied to create database")) {
            msg = "the PostgreSQL role may not create databases (" + where + "): grant it CREATEDB, or have an admin"
                    + " create the empty database (ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0)";
        } else if (exitCode > 128) {
            msg = program + " was killed (signal " + (exitCode - 128) + ") while working on " + where;
        } else {
            msg = program + " failed (exit code " + exitCode + ") on " + where;
        }
        return new SynapseBackupException(msg + detail);
    }

    /** {@code s} on one line: line breaks become {@code " | "}. */
    static String oneLine(String s) {
        return s.strip().replaceAll("\\s*\n\\s*", " | ");
    }

    @Override
    public void close() {
        if (passFile != null) {
            try {
                Files.deleteIfExists(passFile);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete temporary passfile " + passFile, e);
            }
        }
    }

    /** Collects the last few KiB of a child's stderr on a daemon thread. */
    static final class StderrTail {
        private final Thread thread;
        private final ByteArrayOutputStream tail = new ByteArrayOutputStream();

        private StderrTail(Process p, String name) {
            thread = new Thread(() -> drain(p.getErrorStream()), name + "-stderr");
            thread.setDaemon(true);
        }

        static StderrTail start(Process p, String name) {
            StderrTail t = new StderrTail(p, name);
            t.thread.start();
            return t;
        }

        private void drain(InputStream in) {
            byte[] buf = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    synchronized (tail) {
                        tail.write(buf, 0, n);
                        if (tail.size() > 4 * TAIL_BYTES) {
                            byte[] all = tail.toByteArray();
                            tail.reset();
                            tail.write(all, all.length - TAIL_BYTES, TAIL_BYTES);
                        }
                    }
                }
            } catch (IOException e) {
                // the child went away: what was read so far is the tail
            }
        }

        /** The tail of stderr, once the stream has ended (waits up to 10 s for it). */
        String text() {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (tail) {
                byte[] all = tail.toByteArray();
                int from = Math.max(0, all.length - TAIL_BYTES);
                return new String(all, from, all.length - from, StandardCharsets.UTF_8).strip();
            }
        }
    }
}
