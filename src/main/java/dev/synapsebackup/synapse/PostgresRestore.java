package dev.synapsebackup.synapse;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.PostgresAdmin;
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
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
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
 */
public final class PostgresRestore {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresRestore.class);
    private static final int COPY_BUFFER = 1 << 16;
    private static final int MAX_IDENTIFIER = 63;
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
     * @param previousDropped whether that schema was dropped (in the restore's transaction)
     * @param tables          number of tables in schema {@code public} of the restored database
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
     */
    public record Listing(int entries, long bytes, String sha256) {
    }

    /** Test hook: called while the SQL is sent, with the bytes of the dump's script sent so far. */
    interface LoadHook {
        void sent(long bytes) throws IOException;
    }

    private final PgTools tools;
    private final Path tempDir;
    private final PostgresAdmin admin;
    private LoadHook loadHook = bytes -> { };

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
        this.admin = admin;
    }

    void loadHook(LoadHook hook) {
        this.loadHook = hook;
    }

    /** Restores the dump made of the concatenation of {@code chunks} (staged chunk files, in order). */
    public Result restore(DatabaseConfig.Postgres db, List<Path> chunks, Options options) throws IOException {
        try (InputStream in = concat(chunks)) {
            return restore(db, in, options);
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
        String dbname = dbname(db);
        tools.version("pg_restore");
        tools.find("psql");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            plan(s, db, dbname, options);
        }
    }

    /** What {@link #plan} found. */
    private record Plan(String maint, String user, boolean exists, String aside) {
    }

    private static String dbname(DatabaseConfig.Postgres db) {
        String dbname = db.dbname() != null ? db.dbname() : db.user();
        if (dbname == null) {
            throw new dev.synapsebackup.ConfigException("homeserver.yaml's database.args names no database (dbname)"
                    + " and no user: cannot tell which PostgreSQL database to restore");
        }
        return dbname;
    }

    /** Checks everything {@link #restore} needs; changes nothing. */
    private Plan plan(PgSession s, DatabaseConfig.Postgres db, String dbname, Options options) {
        String maint;
        try {
            maint = maintenanceDb(s);
        } catch (SynapseBackupException e) {
            throw authHint(e, db);
        }
        String[] who = s.query(maint, "SELECT current_user, (SELECT count(*) FROM pg_catalog.pg_database WHERE datname = "
                + literal(dbname) + "), (SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)")
                .get(0);
        String user = who[0];
        boolean exists = !"0".equals(who[1].trim());
        if (!exists) {
            if (admin != null) {
                try (PgSession a = adminSession(db)) {
                    String am = maintenanceDb(a);
                    if (!"t".equals(a.query(am, "SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles"
                            + " WHERE rolname = current_user").get(0)[0].trim())) {
                        throw new SynapseBackupException("the PostgreSQL admin connection (" + admin.describe()
                                + ", config \"postgres\") may not create databases; " + missingDatabase(s, db, dbname, user));
                    }
                }
            } else if (!"t".equals(who[2].trim())) {
                throw new SynapseBackupException(missingDatabase(s, db, dbname, user));
            }
            return new Plan(maint, user, false, null);
        }
        String[] rights = s.query(dbname, "SELECT has_database_privilege(current_database(), 'CREATE'),"
                + " has_schema_privilege('public', 'CREATE'), (SELECT count(*) FROM pg_catalog.pg_tables"
                + " WHERE schemaname = 'public')").get(0);
        if (!"t".equals(rights[1].trim())) {
            throw new SynapseBackupException("PostgreSQL role \"" + user + "\" may not create tables in schema public of "
                    + s.describe(dbname) + ": Synapse's database must be owned by its role (as the postgres superuser: "
                    + "ALTER DATABASE " + ident(dbname) + " OWNER TO " + ident(user) + "; and, before PostgreSQL 15,"
                    + " GRANT CREATE ON SCHEMA public TO " + ident(user) + ")");
        }
        int tables = Integer.parseInt(rights[2].trim());
        if (tables == 0) {
            return new Plan(maint, user, true, null);
        }
        if (!options.dropExisting()) {
            throw new SynapseBackupException("PostgreSQL " + s.describe(dbname) + " already exists and has "
                    + tables + " tables: refusing to restore over it (with --drop-existing its contents are replaced"
                    + " in one transaction, and kept in a schema with --keep-previous)");
        }
        String aside = asideName(options.asideSuffix());
        if (!"t".equals(rights[0].trim())) {
            throw new SynapseBackupException("PostgreSQL role \"" + user + "\" may not create schemas in " + s.describe(dbname)
                    + ", which a restore over existing contents needs: Synapse's database must be owned by its role"
                    + " (as the postgres superuser: ALTER DATABASE " + ident(dbname) + " OWNER TO " + ident(user) + ")");
        }
        if (!"0".equals(s.query(dbname, "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = "
                + literal(aside)).get(0)[0].trim())) {
            throw new SynapseBackupException("schema \"" + aside + "\" already exists in " + s.describe(dbname)
                    + " (the contents kept by an earlier restore --keep-previous): drop it first with"
                    + " psql -c 'DROP SCHEMA " + ident(aside) + " CASCADE' as Synapse's role");
        }
        List<String[]> foreign = s.query(dbname, FOREIGN_OBJECTS);
        if (!foreign.isEmpty()) {
            List<String> names = new ArrayList<>();
            for (String[] r : foreign.subList(0, Math.min(5, foreign.size()))) {
                names.add(r[0] + " (owner " + r[1] + ")");
            }
            throw new SynapseBackupException("PostgreSQL role \"" + user + "\" does not own " + foreign.size()
                    + " object(s) in schema public of " + s.describe(dbname) + ", so it cannot replace them: "
                    + String.join(", ", names) + (foreign.size() > 5 ? ", …" : "")
                    + "; as the postgres superuser, REASSIGN them to " + ident(user) + " or drop them");
        }
        return new Plan(maint, user, true, aside);
    }

    /** Objects in schema public that are no extension's and not owned by (a role of) the current user. */
    private static final String FOREIGN_OBJECTS = """
            SELECT c.oid::regclass::text, pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p','v','m','S','f','c')
               AND NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                               AND d.objid = c.oid AND d.deptype = 'e')
            UNION ALL
            SELECT p.oid::regprocedure::text, pg_catalog.pg_get_userbyid(p.proowner) FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND NOT pg_catalog.pg_has_role(p.proowner, 'USAGE')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                               AND d.objid = p.oid AND d.deptype = 'e')
            UNION ALL
            SELECT t.oid::regtype::text, pg_catalog.pg_get_userbyid(t.typowner) FROM pg_catalog.pg_type t
             WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('d','e','r')
               AND NOT pg_catalog.pg_has_role(t.typowner, 'USAGE')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass
                               AND d.objid = t.oid AND d.deptype = 'e')
            """;

    /**
     * Moves everything in schema public that is no extension's into schema {@code :aside}: tables
     * (with their indexes, constraints, triggers and owned sequences), views, sequences, types,
     * routines. Fails (and so rolls back) if anything else remains there.
     */
    private static String moveAsideSql(String aside) {
        return """
                SET LOCAL lock_timeout = '60s';
                CREATE SCHEMA %1$s;
                DO $synapse_backup$
                DECLARE r record; left_over text;
                BEGIN
                  FOR r IN SELECT c.relname, c.relkind FROM pg_catalog.pg_class c
                      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p','v','m','S','f','c')
                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                                        AND d.objid = c.oid AND d.deptype = 'e')
                        AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                 WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                                   AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a','i')))
                  LOOP
                    EXECUTE format('ALTER %%s public.%%I SET SCHEMA %%I', CASE r.relkind WHEN 'v' THEN 'VIEW'
                        WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                        WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, r.relname, %2$s);
                  END LOOP;
                  FOR r IN SELECT t.typname, t.typtype FROM pg_catalog.pg_type t
                      WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('d','e','r')
                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass
                                        AND d.objid = t.oid AND d.deptype = 'e')
                  LOOP
                    EXECUTE format('ALTER %%s public.%%I SET SCHEMA %%I', CASE r.typtype WHEN 'd' THEN 'DOMAIN'
                        ELSE 'TYPE' END, r.typname, %2$s);
                  END LOOP;
                  FOR r IN SELECT p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'public'::regnamespace
                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                                        AND d.objid = p.oid AND d.deptype = 'e')
                  LOOP
                    EXECUTE format('ALTER ROUTINE %%s SET SCHEMA %%I', r.oid::regprocedure, %2$s);
                  END LOOP;
                  SELECT string_agg(c.relname, ', ') INTO left_over FROM pg_catalog.pg_class c
                      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind NOT IN ('i','I')
                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                                        AND d.objid = c.oid AND d.deptype = 'e');
                  IF left_over IS NOT NULL THEN
                    RAISE EXCEPTION 'cannot move these objects of schema public aside: %%', left_over;
                  END IF;
                END
                $synapse_backup$;
                """.formatted(ident(aside), literal(aside));
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
        String dbname = dbname(db);
        PgTools.Version pgRestore = tools.version("pg_restore");
        tools.find("psql");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            Plan plan = plan(s, db, dbname, options);
            String createdBy = null;
            PgSession creator = null;
            String creatorMaint = null;
            boolean ok = false;
            try {
                if (!plan.exists()) {
                    creator = admin != null ? adminSession(db) : s;
                    createdBy = admin != null ? "admin" : "self";
                    creatorMaint = admin != null ? maintenanceDb(creator) : plan.maint();
                    creator.query(creatorMaint, "CREATE DATABASE " + ident(dbname) + " WITH OWNER " + ident(plan.user())
                            + " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
                    LOG.info("created PostgreSQL database \"{}\" owned by \"{}\"{}", dbname, plan.user(),
                            admin != null ? " through the admin connection (" + admin.describe() + ")" : "");
                } else if (plan.aside() != null) {
                    terminate(s, plan.maint(), dbname);
                }
                load(s, pgRestore, dbname, dump, plan.aside(), options.keepPrevious());
                int tables = Integer.parseInt(s.query(dbname, "SELECT count(*) FROM pg_catalog.pg_tables"
                        + " WHERE schemaname = 'public'").get(0)[0].trim());
                ok = true;
                return new Result(dbname, createdBy != null, plan.aside(), plan.aside() != null && !options.keepPrevious(),
                        tables, pgRestore.text(), createdBy);
            } finally {
                if (!ok && creator != null) {
                    try {
                        dropDatabase(creator, creatorMaint, dbname);
                        LOG.info("restore failed: dropped the database \"{}\" it had created", dbname);
                    } catch (RuntimeException e) {
                        LOG.error("restore failed, and the database \"{}\" it created cannot be dropped: {}", dbname,
                                e.getMessage());
                    }
                }
                if (creator != null && creator != s) {
                    creator.close();
                }
            }
        }
    }

    private PgSession adminSession(DatabaseConfig.Postgres db) {
        if (admin.osUser() != null) {
            // Peer authentication works over the Unix socket only: the configured socket directory, else libpq's default.
            String host = db.host() != null && db.host().startsWith("/") ? db.host() : null;
            return new PgSession(new DatabaseConfig.Postgres(host, db.port(), admin.user(), null, null, Map.of()),
                    tools, tempDir, admin.osUser());
        }
        return new PgSession(new DatabaseConfig.Postgres(db.host(), db.port(), admin.user(), admin.password().orElse(null),
                null, db.otherArgs()), tools, tempDir);
    }

    /** An authentication failure, with what to do on a new server where Synapse's role does not exist yet. */
    private SynapseBackupException authHint(SynapseBackupException e, DatabaseConfig.Postgres db) {
        if (!e.getMessage().startsWith("PostgreSQL authentication failed") || db.user() == null) {
            return e;
        }
        if (admin != null) {
            try (PgSession a = adminSession(db)) {
                String am = maintenanceDb(a);
                if (!"0".equals(a.query(am, "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = "
                        + literal(db.user())).get(0)[0].trim())) {
                    return e;
                }
            } catch (SynapseBackupException ae) {
                return new SynapseBackupException(e.getMessage() + "; the admin connection (" + admin.describe()
                        + ", config \"postgres\") fails too: " + ae.getMessage(), e);
            }
            return new SynapseBackupException("PostgreSQL role \"" + db.user() + "\" (homeserver.yaml's database.args.user)"
                    + " does not exist on the server; create it first, with the password from homeserver.yaml:\n  "
                    + "sudo -u postgres createuser" + serverArgs(db) + " --pwprompt " + sh(db.user()), e);
        }
        return new SynapseBackupException(e.getMessage() + ". On a new PostgreSQL server, an admin must first create"
                + " Synapse's role with the password from homeserver.yaml:\n  sudo -u postgres createuser" + serverArgs(db)
                + " --pwprompt " + sh(db.user()), e);
    }

    /** The message for a missing database that nobody configured may create, with the commands to create it. */
    private String missingDatabase(PgSession s, DatabaseConfig.Postgres db, String dbname, String user) {
        return "PostgreSQL " + s.describe(dbname) + " does not exist, and role \"" + user + "\" may not create"
                + " databases (no CREATEDB, as in Synapse's documented setup). Have an admin create it as Synapse"
                + " requires, then run the restore again:\n  sudo -u postgres createdb" + serverArgs(db)
                + " --encoding=UTF8 --locale=C --template=template0 --owner=" + sh(user) + " " + sh(dbname)
                + "\nor configure an admin connection in synapse-backup's config (postgres: {admin-os-user: postgres},"
                + " or admin-user with admin-password-file) and the restore creates it";
    }

    /** {@code -h}/{@code -p} for commands an admin runs as {@code postgres} on the database server. */
    private static String serverArgs(DatabaseConfig.Postgres db) {
        String h = db.host();
        boolean local = h == null || h.equals("localhost") || h.equals("127.0.0.1") || h.equals("::1");
        return (local ? "" : " -h " + sh(h)) + (db.port() == 5432 ? "" : " -p " + db.port());
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

    /** Ends the database's other sessions of the same role (Synapse must be stopped; others' are not ours to end). */
    private static void terminate(PgSession s, String maint, String dbname) {
        s.query(maint, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + literal(dbname)
                + " AND pid <> pg_backend_pid() AND (usename = current_user OR (SELECT rolsuper FROM pg_catalog.pg_roles"
                + " WHERE rolname = current_user))");
    }

    private static void sleep() {
        try {
            Thread.sleep(250);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted");
        }
    }

    /**
     * Loads the dump in one transaction of one psql session: {@code pg_restore -f -} turns the
     * archive into SQL, which is sent between our {@code BEGIN} (and the move aside) and our
     * {@code COMMIT}; the {@code COMMIT} is sent only when pg_restore has exited 0 and every byte
     * went through. On any failure psql is killed before that, and the server rolls back.
     * (Synapse has no large objects, the only thing pg_restore wraps in its own transaction.)
     */
    private void load(PgSession s, PgTools.Version pgRestore, String dbname, InputStream dump, String aside,
            boolean keepPrevious) throws IOException {
        ProcessBuilder gb = new ProcessBuilder(pgRestore.path().toString(), "--no-owner", "--no-privileges", "-f", "-");
        gb.environment().put("LC_ALL", "C");
        ProcessBuilder pb = s.builder(List.of(tools.find("psql").toString(), "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1",
                "-d", s.conninfo(dbname), "-f", "-"));
        pb.environment().put("PGCLIENTENCODING", "UTF8");
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process psql = pb.start();
        PgSession.StderrTail psqlErr = PgSession.StderrTail.start(psql, "psql");
        Process gen = null;
        boolean committed = false;
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
                toPsql.write(("BEGIN;\n" + (aside != null ? moveAsideSql(aside) : "")).getBytes(StandardCharsets.UTF_8));
                byte[] buf = new byte[COPY_BUFFER];
                long sent = 0;
                try (InputStream sql = gen.getInputStream()) {
                    int n;
                    while ((n = sql.read(buf)) >= 0) {
                        toPsql.write(buf, 0, n);
                        sent += n;
                        loadHook.sent(sent);
                    }
                }
            } catch (IOException e) {
                failure = e.getMessage();
                psql.destroyForcibly(); // before pg_restore can finish: no COMMIT may reach the server
                gen.destroyForcibly(); // it may be blocked writing to us
            }
            int genRc = waitFor(gen, s, dbname);
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
                String end = "DO $synapse_backup$BEGIN IF pg_catalog.to_regclass('public." + PostgresDump.EXCLUDED_TABLE_DATA
                        + "') IS NOT NULL THEN TRUNCATE public." + PostgresDump.EXCLUDED_TABLE_DATA + "; END IF; END"
                        + "$synapse_backup$;\n"
                        + (aside != null && !keepPrevious ? "DROP SCHEMA " + ident(aside) + " CASCADE;\n" : "")
                        + "COMMIT;\n";
                try {
                    toPsql.write(end.getBytes(StandardCharsets.UTF_8));
                    toPsql.close();
                    committed = true; // sent; psql's exit code tells whether it took
                } catch (IOException e) {
                    failure = e.getMessage();
                }
            }
            if (!committed) {
                psql.destroyForcibly();
            }
            int rc = waitFor(psql, s, dbname);
            if (rc != 0 || !committed) {
                String err = psqlErr.text();
                throw new SynapseBackupException("loading the dump into " + s.describe(dbname) + " failed"
                        + (err.isBlank() ? (failure != null ? ": " + failure : "") : " (psql: " + oneLine(err) + ")")
                        + "; it was rolled back, the database is as it was");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while restoring "
                    + s.describe(dbname) + "; it was rolled back");
        } finally {
            if (!committed) {
                psql.destroyForcibly();
                if (gen != null) {
                    gen.destroyForcibly();
                }
            }
        }
    }

    private static int waitFor(Process p, PgSession s, String dbname) {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while restoring "
                    + s.describe(dbname) + "; it was rolled back");
        }
    }

    private static String oneLine(String s) {
        return s.strip().replaceAll("\\s*\n\\s*", " | ");
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
     * {@code restore --target}, as Synapse's docs set it up: {@code postgres} creates the
     * database as Synapse requires, owned by Synapse's role (which needs no {@code CREATEDB}),
     * then that role loads the dump in one transaction. The password is not included (libpq asks
     * for it, or reads {@code ~/.pgpass}).
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
        String owner = sh(db.user() != null ? db.user() : "synapse_user");
        return List.of(
                "sudo -u postgres createdb" + serverArgs(db) + " --encoding=UTF8 --locale=C --template=template0 --owner="
                        + owner + " " + sh(name),
                "pg_restore " + c + " --no-owner --no-privileges --exit-on-error --single-transaction -d " + sh(name) + " "
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

    /** {@code public_pre_restore_<suffix>}, cut to PostgreSQL's 63-byte identifiers. */
    static String asideName(String suffix) {
        String name = ASIDE_PREFIX + (suffix != null ? suffix
                : LocalDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMddHHmmss")));
        while (name.getBytes(StandardCharsets.UTF_8).length > MAX_IDENTIFIER) {
            name = name.substring(0, name.length() - 1);
        }
        return name;
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
