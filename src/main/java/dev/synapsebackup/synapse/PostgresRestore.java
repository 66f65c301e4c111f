package dev.synapsebackup.synapse;

import static dev.synapsebackup.synapse.PgQuote.shell;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.PostgresAdmin;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.Iterator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a {@link PostgresDump} into a Synapse PostgreSQL database, and checks dumps.
 *
 * <p>Only the rights of Synapse's documented role are needed for a database that exists: a role
 * made with {@code createuser} (no {@code CREATEDB}, not a superuser) that owns the database,
 * which the {@code postgres} superuser created with {@code OWNER}. The dump is turned into SQL
 * by {@code pg_restore -f -} ({@code --no-owner --no-privileges}, so every object belongs to
 * Synapse's role and grants to roles that may not exist here are left out) and loaded by one
 * {@code psql} session in <em>one transaction</em>, which first moves the old contents of schema
 * {@code public} into a new schema {@code public_pre_restore_<suffix>} ({@code ALTER … SET
 * SCHEMA}: the role owns those objects, and needs neither to own {@code public}, which before
 * PostgreSQL 15 belongs to {@code postgres}, nor to rename the database), then loads the dump,
 * empties {@code e2e_one_time_keys_json}, drops the moved-aside schema (unless
 * {@link Options#keepPrevious()}) and only then commits. {@code COMMIT} is sent only after
 * {@code pg_restore} has exited well; any failure before it (a bad dump, a server error, a lost
 * connection, a kill) ends the session without commit, so the server rolls everything back and
 * the database is exactly as it was. Objects of extensions stay where they are (the dump's
 * {@code CREATE EXTENSION IF NOT EXISTS} finds them).
 *
 * <p>A missing database is created as Synapse requires ({@code ENCODING 'UTF8' LC_COLLATE 'C'
 * LC_CTYPE 'C' TEMPLATE template0}, {@code OWNER} Synapse's role) through the configured
 * {@link PostgresAdmin} connection, else by Synapse's role if it has {@code CREATEDB}; without
 * either the restore stops before anything changed and names the commands an admin must run.
 * A database this class created is dropped again when the restore fails. The admin connection
 * is never used for anything else, and never unless configured.
 *
 * <p>The parts: {@link RestorePlan} (the checks, which change nothing), {@link RestoreAdmin}
 * (the admin connection and the database-level statements), {@link SchemaSwap} (the SQL around
 * the dump in the one transaction), {@link PgRestoreRunner} ({@code pg_restore} and {@code psql}).
 */
public final class PostgresRestore {
    /** A restore whose COMMIT was sent, but whose outcome is not known. */
    public static final class OutcomeUnknown extends SynapseBackupException {
        private static final long serialVersionUID = 1L;

        OutcomeUnknown(int exitCode, String message) {
            super(exitCode, message);
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(PostgresRestore.class);
    /** Prefix of the schema that holds a database's previous contents ({@code --keep-previous}). */
    public static final String ASIDE_PREFIX = "public_pre_restore_";

    /**
     * What to do with an existing database.
     *
     * @param dropExisting a database whose schema {@code public} has tables is restored over
     *                     (its contents are replaced in one transaction) instead of refused
     * @param keepPrevious the replaced contents are kept in schema {@code public_pre_restore_<suffix>}
     *                     of the same database (otherwise they are dropped in that transaction)
     * @param asideSuffix  suffix of that schema's name, {@code null} for the UTC time {@code yyyyMMddHHmmss}
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
     * @param created         whether this restore created it (false: it existed)
     * @param previous        the schema the old contents were moved to, or {@code null} (there were none)
     * @param previousDropped whether that schema was dropped (in the restore's transaction; it is kept,
     *                        with a warning, when objects outside it depend on it)
     * @param tables          number of tables in schema {@code public} of the restored database, -1 if
     *                        they could not be counted after the commit
     * @param pgRestoreVersion first line of {@code pg_restore --version}
     * @param createdBy       who created the database ({@code "admin"}, {@code "self"}) or {@code null}
     */
    public record Result(String dbname, boolean created, String previous, boolean previousDropped, int tables,
            String pgRestoreVersion, String createdBy) {
    }

    /**
     * What {@code pg_restore --list} found in a dump.
     *
     * @param entries number of table-of-contents entries
     * @param bytes   bytes read (the whole dump)
     * @param sha256  lower-case hex SHA-256 of the whole dump
     * @param largeObjects number of large-object entries (which {@link #restore} refuses)
     */
    public record Listing(int entries, long bytes, String sha256, int largeObjects) {
    }

    /** Test hook: called while the SQL is sent, with the bytes of the dump's script sent so far. */
    interface LoadHook {
        void sent(long bytes) throws IOException;
    }

    private final PgTools tools;
    private final Path tempDir;
    private final RestoreAdmin admin;
    private final PgRestoreRunner runner;
    private LoadHook loadHook = bytes -> { };
    private Runnable createHook = () -> { };

    /** System client programs, passfile in the system temp directory. */
    public PostgresRestore() {
        this(PgTools.system(), null);
    }

    /**
     * @param tools   where to find {@code pg_restore} and {@code psql}
     * @param tempDir directory for the temporary passfile, or {@code null} for the system one
     */
    public PostgresRestore(PgTools tools, Path tempDir) {
        this(tools, tempDir, null);
    }

    /**
     * @param tools   where to find {@code pg_restore} and {@code psql}
     * @param tempDir directory for temporary passfiles, or {@code null} for the system one
     * @param admin   the admin connection for creating a missing database, or {@code null} (none)
     */
    public PostgresRestore(PgTools tools, Path tempDir, PostgresAdmin admin) {
        this.tools = tools;
        this.tempDir = tempDir;
        this.admin = new RestoreAdmin(admin, tools, tempDir);
        this.runner = new PgRestoreRunner(tools);
    }

    void loadHook(LoadHook hook) {
        this.loadHook = hook;
    }

    /** Test hook: called just before {@code CREATE DATABASE} (after the check that it is missing). */
    void createHook(Runnable hook) {
        this.createHook = hook;
    }

    /** Restores the dump made of the concatenation of {@code chunks} (staged chunk files, in order). */
    public Result restore(DatabaseConfig.Postgres db, List<Path> chunks, Options options) throws IOException {
        try (InputStream in = concat(chunks)) {
            // pg_restore --list reads the header and table of contents only: cheap, and before anything is touched
            refuseLargeObjects(runner.list(in, false), RestorePlan.dbname(db));
        }
        try (InputStream in = concat(chunks)) {
            return restore(db, in, options);
        }
    }

    static final String LARGE_OBJECTS_REFUSED = "the PostgreSQL dump contains large objects, which Synapse"
            + " does not use and synapse-backup cannot restore in one transaction (pg_restore commits them in their own);"
            + " nothing was changed. Restore it by hand (restore --target, then pg_restore --single-transaction)";

    /**
     * Refuses a dump whose table of contents lists large objects (see {@link #restore}).
     *
     * @throws SynapseBackupException (exit 1) it does, naming the database that was not touched
     */
    public static void refuseLargeObjects(Listing l, String dbname) {
        if (l.largeObjects() > 0) {
            throw new SynapseBackupException(LARGE_OBJECTS_REFUSED.replace("; nothing was changed", "; database \""
                    + dbname + "\" was not touched"));
        }
    }

    /**
     * Checks, without changing anything, that {@link #restore} could start: the client programs,
     * the connection and credentials, that the target database is absent (and can be created),
     * empty, or (with {@code dropExisting}) can be restored over by Synapse's role. Run it before
     * Synapse is stopped.
     *
     * @throws SynapseBackupException naming the cause (and, for a missing database, the commands
     *     an admin must run), as {@link #restore} would
     */
    public void preflight(DatabaseConfig.Postgres db, Options options) {
        String dbname = RestorePlan.dbname(db);
        tools.version("pg_restore");
        tools.find("psql");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            RestorePlan.check(s, db, dbname, options, admin);
        }
    }

    /**
     * Restores the dump read from {@code dump} (read to its end, not closed) into the configured
     * database.
     *
     * @throws SynapseBackupException (exit 1) the target has tables and {@code dropExisting} is
     *     off; the database is missing and nobody configured may create it; authentication,
     *     connection, permission or pg_restore failure (everything done so far is undone); the
     *     message names the cause
     */
    public Result restore(DatabaseConfig.Postgres db, InputStream dump, Options options) throws IOException {
        String dbname = RestorePlan.dbname(db);
        PgTools.Version pgRestore = tools.version("pg_restore");
        tools.find("psql");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            RestorePlan plan = RestorePlan.check(s, db, dbname, options, admin);
            String createdBy = null;
            PgSession adminS = null;
            PgSession creator = null; // set only once CREATE DATABASE succeeded: only then is the database ours to drop
            String creatorMaint = null;
            boolean ok = false;
            try {
                if (!plan.exists()) {
                    PgSession cs = admin.configured() ? (adminS = admin.session(db)) : s;
                    String cm = admin.configured() ? RestoreAdmin.maintenanceDb(cs) : plan.maint();
                    createHook.run();
                    RestoreAdmin.createDatabase(cs, cm, dbname, plan.user());
                    creator = cs;
                    creatorMaint = cm;
                    createdBy = admin.configured() ? "admin" : "self";
                    LOG.info("created PostgreSQL database \"{}\" owned by \"{}\"{}", dbname, plan.user(),
                            admin.configured() ? " through the admin connection (" + admin.describe() + ")" : "");
                } else if (plan.aside() != null) {
                    RestoreAdmin.terminate(s, plan.maint(), dbname);
                }
                try {
                    runner.load(s, pgRestore, dbname, dump, SchemaSwap.begin(plan.aside()),
                            SchemaSwap.commit(plan.aside(), options.keepPrevious()), loadHook);
                } catch (OutcomeUnknown e) {
                    ok = true; // it may have committed: a database holding the restored data is not ours to drop
                    throw e;
                }
                ok = true;
                // Committed: from here on nothing may throw, a failure would be reported as a failed restore.
                boolean dropped = plan.aside() != null && !options.keepPrevious()
                        && !SchemaSwap.asideKept(s, dbname, plan.aside());
                int tables = -1;
                try {
                    tables = Integer.parseInt(s.query(dbname, "SELECT count(*) FROM pg_catalog.pg_tables"
                            + " WHERE schemaname = 'public'").get(0)[0].trim());
                } catch (RuntimeException e) {
                    LOG.warn("the restore into {} committed, but its tables cannot be counted: {}", s.describe(dbname),
                            e.getMessage());
                }
                return new Result(dbname, createdBy != null, plan.aside(), dropped, tables, pgRestore.text(), createdBy);
            } finally {
                if (!ok && creator != null) {
                    try {
                        RestoreAdmin.dropDatabase(creator, creatorMaint, dbname);
                        LOG.info("restore failed: dropped the database \"{}\" it had created", dbname);
                    } catch (RuntimeException e) {
                        LOG.error("restore failed, and the database \"{}\" it created cannot be dropped: {}", dbname,
                                e.getMessage());
                    }
                }
                if (adminS != null) {
                    adminS.close();
                }
            }
        }
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
        return runner.list(dump, true);
    }

    /**
     * The stock commands that restore {@code dumpFile} into the configured database, for
     * {@code restore --target}, as Synapse's docs set it up: {@code postgres} creates the
     * database as Synapse requires, owned by Synapse's role (which needs no {@code CREATEDB}),
     * then that role loads the dump in one transaction. The password is not included (libpq asks
     * for it, or reads {@code ~/.pgpass}).
     */
    public static List<String> stockCommands(DatabaseConfig.Postgres db, Path dumpFile) {
        List<String> conn = new ArrayList<>();
        if (db.host() != null) {
            conn.add("-h " + shell(db.host()));
        }
        conn.add("-p " + db.port());
        if (db.user() != null) {
            conn.add("-U " + shell(db.user()));
        }
        String c = String.join(" ", conn);
        String name = db.dbname() != null ? db.dbname() : db.user() != null ? db.user() : "synapse";
        String owner = shell(db.user() != null ? db.user() : "synapse_user");
        return List.of(
                "sudo -u postgres createdb" + RestoreAdmin.serverArgs(db)
                        + " --encoding=UTF8 --locale=C --template=template0 --owner=" + owner + " " + shell(name),
                "pg_restore " + c + " --no-owner --no-privileges --exit-on-error --single-transaction -d " + shell(name)
                        + " " + shell(dumpFile.toString()));
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
                    throw new UncheckedIOException("cannot read dump chunk " + p, ex);
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
}
