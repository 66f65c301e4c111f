package dev.synapsebackup.synapse;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.io.Sha256;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a {@link PostgresDump} into a Synapse PostgreSQL database, and checks dumps.
 *
 * <p>The database is created as Synapse requires: {@code ENCODING 'UTF8' LC_COLLATE 'C'
 * LC_CTYPE 'C' TEMPLATE template0}, owned by the configured user, who therefore needs the
 * {@code CREATEDB} privilege (or an admin creates the empty database beforehand, which is then
 * used as it is). {@code pg_restore} runs as the configured user with {@code --no-owner
 * --no-privileges --exit-on-error}, so every object belongs to that user and grants to roles
 * that may not exist on the new server are left out.
 *
 * <p>Nothing is half-done: the connection, the client programs and the target are checked
 * before anything changes. A target database that has tables is refused unless
 * {@link Options#dropExisting()}; then it is renamed aside to
 * {@code <dbname>_pre_restore_<suffix>} (its other sessions are terminated first: Synapse must
 * be stopped) and renamed back if the restore fails. A database this class created is dropped
 * again when the restore fails; an existing empty one is restored into in a single transaction,
 * so that a failure leaves it empty.
 */
public final class PostgresRestore {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresRestore.class);
    private static final int COPY_BUFFER = 1 << 16;
    private static final int MAX_IDENTIFIER = 63;

    /**
     * What to do with an existing database.
     *
     * @param dropExisting an existing database with tables is renamed aside instead of refused
     * @param keepPrevious the renamed-aside database is kept after a successful restore
     *                     (otherwise it is dropped then)
     * @param asideSuffix  suffix of the aside name, {@code null} for the UTC time {@code yyyyMMddHHmmss}
     */
    public record Options(boolean dropExisting, boolean keepPrevious, String asideSuffix) {
        /** Refuse a populated database. */
        public static Options refuseExisting() {
            return new Options(false, false, null);
        }
    }

    /**
     * The outcome of a restore.
     *
     * @param dbname          the restored database
     * @param created         whether this restore created it (false: it existed and was empty)
     * @param previous        the name the old database was renamed to, or {@code null}
     * @param previousDropped whether that old database was dropped after success
     * @param tables          number of tables in the restored database
     * @param pgRestoreVersion first line of {@code pg_restore --version}
     */
    public record Result(String dbname, boolean created, String previous, boolean previousDropped, int tables,
            String pgRestoreVersion) {
    }

    /**
     * What {@code pg_restore --list} found in a dump.
     *
     * @param entries number of table-of-contents entries
     * @param bytes   bytes read (the whole dump)
     * @param sha256  lower-case hex SHA-256 of the whole dump
     */
    public record Listing(int entries, long bytes, String sha256) {
    }

    private final PgTools tools;
    private final Path tempDir;

    /** System client programs, passfile in the system temp directory. */
    public PostgresRestore() {
        this(PgTools.system(), null);
    }

    /**
     * @param tools   where to find {@code pg_restore} and {@code psql}
     * @param tempDir directory for the temporary passfile, or {@code null} for the system one
     */
    public PostgresRestore(PgTools tools, Path tempDir) {
        this.tools = tools;
        this.tempDir = tempDir;
    }

    /** Restores the dump made of the concatenation of {@code chunks} (staged chunk files, in order). */
    public Result restore(DatabaseConfig.Postgres db, List<Path> chunks, Options options) throws IOException {
        try (InputStream in = concat(chunks)) {
            return restore(db, in, options);
        }
    }

    /**
     * Checks, without changing anything, that {@link #restore} could start: the client programs,
     * the connection and credentials, and that the target database is absent, empty, or (with
     * {@code dropExisting}) can be renamed aside. Run it before Synapse is stopped.
     *
     * @throws SynapseBackupException naming the cause, as {@link #restore} would
     */
    public void preflight(DatabaseConfig.Postgres db, Options options) {
        String dbname = db.dbname() != null ? db.dbname() : db.user();
        if (dbname == null) {
            throw new dev.synapsebackup.ConfigException("homeserver.yaml's database.args names no database (dbname)"
                    + " and no user: cannot tell which PostgreSQL database to restore");
        }
        tools.version("pg_restore");
        tools.find("psql");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            String maint = maintenanceDb(s);
            boolean exists = !"0".equals(s.query(maint, "SELECT count(*) FROM pg_database WHERE datname = "
                    + literal(dbname)).get(0)[0].trim());
            if (exists) {
                int tables = countTables(s, dbname);
                if (tables > 0 && !options.dropExisting()) {
                    throw new SynapseBackupException("PostgreSQL " + s.describe(dbname) + " already exists and has "
                            + tables + " tables: refusing to restore over it (with --drop-existing it is renamed"
                            + " aside and kept until the restore has succeeded)");
                }
                if (tables > 0 && !"0".equals(s.query(maint, "SELECT count(*) FROM pg_database WHERE datname = "
                        + literal(asideName(dbname, options.asideSuffix()))).get(0)[0].trim())) {
                    throw new SynapseBackupException("cannot rename " + s.describe(dbname) + " aside: a database \""
                            + asideName(dbname, options.asideSuffix()) + "\" already exists");
                }
            }
        }
    }

    /**
     * Restores the dump read from {@code dump} (read to its end, not closed) into the configured
     * database.
     *
     * @throws SynapseBackupException (exit 1) the target has tables and {@code dropExisting} is
     *     off; authentication, connection, permission or pg_restore failure (everything done so
     *     far is undone); the message names the cause
     */
    public Result restore(DatabaseConfig.Postgres db, InputStream dump, Options options) throws IOException {
        String dbname = db.dbname() != null ? db.dbname() : db.user();
        if (dbname == null) {
            throw new dev.synapsebackup.ConfigException("homeserver.yaml's database.args names no database (dbname)"
                    + " and no user: cannot tell which PostgreSQL database to restore");
        }
        PgTools.Version pgRestore = tools.version("pg_restore");
        tools.find("psql");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            String maint = maintenanceDb(s);
            List<String[]> who = s.query(maint, "SELECT current_user, current_setting('server_version_num'),"
                    + " (SELECT count(*) FROM pg_database WHERE datname = " + literal(dbname) + ")");
            String user = who.get(0)[0];
            boolean exists = !"0".equals(who.get(0)[2].trim());
            String aside = null;
            boolean created;
            if (exists) {
                int tables = countTables(s, dbname);
                if (tables > 0) {
                    if (!options.dropExisting()) {
                        throw new SynapseBackupException("PostgreSQL " + s.describe(dbname) + " already exists and has "
                                + tables + " tables: refusing to restore over it (with --drop-existing it is renamed"
                                + " aside and kept until the restore has succeeded)");
                    }
                    aside = asideName(dbname, options.asideSuffix());
                    if (!"0".equals(s.query(maint, "SELECT count(*) FROM pg_database WHERE datname = "
                            + literal(aside)).get(0)[0].trim())) {
                        throw new SynapseBackupException("cannot rename " + s.describe(dbname) + " aside: a database \""
                                + aside + "\" already exists");
                    }
                    rename(s, maint, dbname, aside);
                    LOG.info("renamed the existing database \"{}\" to \"{}\"", dbname, aside);
                    exists = false;
                }
            }
            boolean ok = false;
            created = !exists;
            try {
                if (created) {
                    s.query(maint, "CREATE DATABASE " + ident(dbname) + " WITH OWNER " + ident(user)
                            + " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
                }
                runPgRestore(s, pgRestore, dbname, dump, !created);
                s.query(dbname, "DO $$BEGIN IF to_regclass('" + PostgresDump.EXCLUDED_TABLE_DATA
                        + "') IS NOT NULL THEN EXECUTE 'TRUNCATE " + PostgresDump.EXCLUDED_TABLE_DATA + "'; END IF; END$$");
                int tables = countTables(s, dbname);
                ok = true;
                boolean dropped = false;
                if (aside != null && !options.keepPrevious()) {
                    try {
                        dropDatabase(s, maint, aside);
                        dropped = true;
                    } catch (SynapseBackupException e) {
                        LOG.warn("restored {}, but cannot drop the previous database \"{}\": {}", dbname, aside, e.getMessage());
                    }
                }
                return new Result(dbname, created, aside, dropped, tables, pgRestore.text());
            } finally {
                if (!ok) {
                    rollback(s, maint, dbname, created, aside);
                }
            }
        }
    }

    private void rollback(PgSession s, String maint, String dbname, boolean created, String aside) {
        try {
            if (created) {
                dropDatabase(s, maint, dbname);
            }
            if (aside != null) {
                rename(s, maint, aside, dbname);
                LOG.info("restore failed: renamed \"{}\" back to \"{}\"", aside, dbname);
            }
        } catch (RuntimeException e) {
            LOG.error("restore failed and cannot be fully undone: {}{}", e.getMessage(),
                    aside == null ? "" : "; the previous database is kept as \"" + aside + "\"");
        }
    }

    /** {@code postgres}, or {@code template1} where there is no {@code postgres} database. */
    private static String maintenanceDb(PgSession s) {
        try {
            s.query("postgres", "SELECT 1");
            return "postgres";
        } catch (SynapseBackupException e) {
            if (e.getMessage().contains("\"postgres\" does not exist")) {
                s.query("template1", "SELECT 1");
                return "template1";
            }
            throw e;
        }
    }

    private static int countTables(PgSession s, String dbname) {
        return Integer.parseInt(s.query(dbname, "SELECT count(*) FROM pg_catalog.pg_tables"
                + " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").get(0)[0].trim());
    }

    /** Renames after terminating the database's other sessions (a rename needs it to be idle). */
    private static void rename(PgSession s, String maint, String from, String to) {
        SynapseBackupException last = null;
        for (int attempt = 0; attempt < 20; attempt++) {
            terminate(s, maint, from);
            try {
                s.query(maint, "ALTER DATABASE " + ident(from) + " RENAME TO " + ident(to));
                return;
            } catch (SynapseBackupException e) {
                last = e;
                if (!e.getMessage().contains("is being accessed by other users")) {
                    break;
                }
                sleep();
            }
        }
        throw new SynapseBackupException("cannot rename PostgreSQL database \"" + from + "\" to \"" + to + "\": "
                + last.getMessage(), last);
    }

    private static void dropDatabase(PgSession s, String maint, String name) {
        SynapseBackupException last = null;
        for (int attempt = 0; attempt < 20; attempt++) {
            terminate(s, maint, name);
            try {
                s.query(maint, "DROP DATABASE IF EXISTS " + ident(name));
                return;
            } catch (SynapseBackupException e) {
                last = e;
                if (!e.getMessage().contains("is being accessed by other users")) {
                    break;
                }
                sleep();
            }
        }
        throw last;
    }

    private static void terminate(PgSession s, String maint, String dbname) {
        s.query(maint, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + literal(dbname)
                + " AND pid <> pg_backend_pid()");
    }

    private static void sleep() {
        try {
            Thread.sleep(250);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted");
        }
    }

    private void runPgRestore(PgSession s, PgTools.Version pgRestore, String dbname, InputStream dump,
            boolean singleTransaction) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(pgRestore.path().toString(), "-w", "--no-owner", "--no-privileges",
                "--exit-on-error"));
        if (singleTransaction) {
            cmd.add("--single-transaction");
        }
        cmd.addAll(List.of("-d", s.conninfo(dbname)));
        ProcessBuilder pb = s.builder(cmd);
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        PgSession.StderrTail err = PgSession.StderrTail.start(p, "pg_restore");
        boolean fed = pump(dump, p.getOutputStream(), null);
        int rc;
        try {
            rc = p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while restoring "
                    + s.describe(dbname));
        }
        if (rc != 0) {
            throw s.failure("pg_restore", dbname, rc, err.text());
        }
        if (!fed) {
            throw new SynapseBackupException("pg_restore stopped reading the dump early while restoring "
                    + s.describe(dbname) + ": " + err.text());
        }
    }

    /**
     * Copies {@code in} to the child's stdin; if the child stops reading, keeps reading
     * {@code in} to its end (into the digest only). Returns whether everything reached the child.
     */
    private static boolean pump(InputStream in, OutputStream childIn, MessageDigest sha) throws IOException {
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

    /** {@link #listDump(InputStream)} of the concatenation of {@code chunks}. */
    public Listing listDump(List<Path> chunks) throws IOException {
        try (InputStream in = concat(chunks)) {
            return listDump(in);
        }
    }

    /**
     * Checks a dump with {@code pg_restore --list}, reading {@code dump} to its end (not closed).
     * {@code --list} reads only the archive's header and table of contents; the whole stream's
     * SHA-256 is returned so the caller can compare it with the manifest's {@code dump-sha256}.
     *
     * @throws IntegrityException (exit 5) pg_restore cannot read it as a dump
     * @throws SynapseBackupException (exit 1) pg_restore is missing
     */
    public Listing listDump(InputStream dump) throws IOException {
        Path exe = tools.find("pg_restore");
        ProcessBuilder pb = new ProcessBuilder(exe.toString(), "--list");
        dev.synapsebackup.config.ChildEnvironment.scrubForLibpq(pb.environment()).put("LC_ALL", "C");
        Process p = pb.start();
        PgSession.StderrTail err = PgSession.StderrTail.start(p, "pg_restore");
        AtomicInteger entries = new AtomicInteger();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (!line.isBlank() && !line.startsWith(";")) {
                        entries.incrementAndGet();
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
        InputStream counting = new java.io.FilterInputStream(dump) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    count[0] += n;
                }
                return n;
            }
        };
        pump(counting, p.getOutputStream(), sha);
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
                    + (e.isBlank() ? "exit code " + rc : e.strip().replaceAll("\\s*\n\\s*", " | ")) + ")");
        }
        return new Listing(entries.get(), count[0], Sha256.hex(sha.digest()));
    }

    /**
     * The stock commands that restore {@code dumpFile} into the configured database, for
     * {@code restore --target}: {@code createdb} as Synapse requires, then {@code pg_restore}.
     * The password is not included (libpq asks for it, or reads {@code ~/.pgpass}).
     */
    public static List<String> stockCommands(DatabaseConfig.Postgres db, Path dumpFile) {
        List<String> conn = new ArrayList<>();
        if (db.host() != null) {
            conn.add("-h " + sh(db.host()));
        }
        conn.add("-p " + db.port());
        if (db.user() != null) {
            conn.add("-U " + sh(db.user()));
        }
        String c = String.join(" ", conn);
        String name = db.dbname() != null ? db.dbname() : db.user() != null ? db.user() : "synapse";
        String owner = db.user() != null ? " -O " + sh(db.user()) : "";
        return List.of(
                "createdb " + c + " -E UTF8 --lc-collate=C --lc-ctype=C -T template0" + owner + " " + sh(name),
                "pg_restore " + c + " --no-owner --no-privileges --exit-on-error -d " + sh(name) + " "
                        + sh(dumpFile.toString()));
    }

    private static String sh(String s) {
        return s.matches("[A-Za-z0-9_./:=@-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    private static InputStream concat(List<Path> chunks) throws IOException {
        if (chunks.isEmpty()) {
            throw new IntegrityException("a PostgreSQL dump with no chunks");
        }
        Iterator<Path> it = chunks.iterator();
        Enumeration<InputStream> e = new Enumeration<>() {
            @Override
            public boolean hasMoreElements() {
                return it.hasNext();
            }

            @Override
            public InputStream nextElement() {
                Path p = it.next();
                try {
                    return Files.newInputStream(p);
                } catch (IOException ex) {
                    throw new java.io.UncheckedIOException("cannot read dump chunk " + p, ex);
                }
            }
        };
        for (Path p : chunks) {
            if (!Files.isReadable(p)) {
                throw new IOException("cannot read dump chunk " + p);
            }
        }
        return new SequenceInputStream(e);
    }

    static String asideName(String dbname, String suffix) {
        String sfx = "_pre_restore_" + (suffix != null ? suffix
                : LocalDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMddHHmmss")));
        String base = dbname;
        // Identifiers are cut at 63 bytes by the server; cut the base name instead of the suffix.
        while ((base + sfx).getBytes(StandardCharsets.UTF_8).length > MAX_IDENTIFIER && !base.isEmpty()) {
            base = base.substring(0, base.length() - 1);
        }
        return base + sfx;
    }

    static String ident(String name) {
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("NUL in identifier");
        }
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    static String literal(String value) {
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("NUL in literal");
        }
        return "'" + value.replace("'", "''") + "'";
    }
}
