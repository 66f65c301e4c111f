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

    /** A {@code pg_restore --list} line of a large object's entry ({@code BLOB}, {@code BLOBS}, {@code LARGE OBJECT}…). */
    private static final java.util.regex.Pattern LARGE_OBJECT_ENTRY =
            java.util.regex.Pattern.compile("^\\d+; \\d+ \\d+ (BLOBS?|BLOB METADATA|LARGE OBJECTS?)( .*)?$");

    /** Test hook: called while the SQL is sent, with the bytes of the dump's script sent so far. */
    interface LoadHook {
        void sent(long bytes) throws IOException;
    }

    private final PgTools tools;
    private final Path tempDir;
    private final PostgresAdmin admin;
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
        this.admin = admin;
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
            refuseLargeObjects(list(in, false), dbname(db));
        }
        try (InputStream in = concat(chunks)) {
            return restore(db, in, options);
        }
    }

    private static final String LARGE_OBJECTS_REFUSED = "the PostgreSQL dump contains large objects, which Synapse"
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

    /** A restore whose COMMIT was sent, but whose outcome is not known. */
    private static final class OutcomeUnknown extends SynapseBackupException {
        private static final long serialVersionUID = 1L;

        OutcomeUnknown(int exitCode, String message) {
            super(exitCode, message);
        }
    }

    /**
     * Objects outside schema {@code aside} that depend on objects in it (views, foreign keys,
     * triggers, defaults…), which {@code DROP SCHEMA … CASCADE} would silently remove too.
     */
    private static String asideDependentsSql(String aside) {
        return """
                SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_catalog.pg_depend d,
                       (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %1$s) n
                 WHERE d.deptype IN ('n','a')
                   AND ((d.refclassid = 'pg_catalog.pg_class'::regclass
                         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_class WHERE relnamespace = n.oid))
                     OR (d.refclassid = 'pg_catalog.pg_type'::regclass
                         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_type WHERE typnamespace = n.oid))
                     OR (d.refclassid = 'pg_catalog.pg_proc'::regclass
                         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace = n.oid))
                     OR (d.refclassid = 'pg_catalog.pg_constraint'::regclass
                         AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_constraint WHERE connamespace = n.oid)))
                   AND CASE d.classid
                       WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = d.objid)
                       WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid = d.objid)
                       WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = d.objid)
                       WHEN 'pg_catalog.pg_constraint'::regclass
                            THEN (SELECT connamespace FROM pg_catalog.pg_constraint WHERE oid = d.objid)
                       WHEN 'pg_catalog.pg_statistic_ext'::regclass
                            THEN (SELECT stxnamespace FROM pg_catalog.pg_statistic_ext WHERE oid = d.objid)
                       WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_rewrite r
                            JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
                       WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_trigger t
                            JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
                       WHEN 'pg_catalog.pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_attrdef a
                            JOIN pg_catalog.pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
                       WHEN 'pg_catalog.pg_policy'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_policy p
                            JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE p.oid = d.objid)
                       END IS DISTINCT FROM n.oid
                """.formatted(literal(aside));
    }

    /**
     * After the commit: whether schema {@code aside} is still there (kept because objects outside it
     * depend on it), with a warning naming them and the command that drops it. Never throws.
     */
    private static boolean asideKept(PgSession s, String dbname, String aside) {
        try {
            if ("0".equals(s.query(dbname, "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = "
                    + literal(aside)).get(0)[0].trim())) {
                return false;
            }
            List<String> names = new ArrayList<>();
            for (String[] r : s.query(dbname, asideDependentsSql(aside) + " LIMIT 6")) {
                names.add(r[0]);
            }
            LOG.warn("kept schema \"{}\" with the previous contents of {}: objects outside it depend on it ({}{}),"
                    + " and DROP SCHEMA … CASCADE would remove them too. Check them, then drop it as Synapse's role:"
                    + " DROP SCHEMA {} CASCADE;", aside, s.describe(dbname),
                    String.join(", ", names.subList(0, Math.min(5, names.size()))), names.size() > 5 ? ", …" : "",
                    ident(aside));
            return true;
        } catch (RuntimeException e) {
            LOG.warn("the restore into {} committed, but whether schema \"{}\" was dropped cannot be checked: {}",
                    s.describe(dbname), aside, e.getMessage());
            return false;
        }
    }

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
            PgSession adminS = null;
            PgSession creator = null; // set only once CREATE DATABASE succeeded: only then is the database ours to drop
            String creatorMaint = null;
            boolean ok = false;
            try {
                if (!plan.exists()) {
                    PgSession cs = admin != null ? (adminS = adminSession(db)) : s;
                    String cm = admin != null ? maintenanceDb(cs) : plan.maint();
                    createHook.run();
                    cs.query(cm, "CREATE DATABASE " + ident(dbname) + " WITH OWNER " + ident(plan.user())
                            + " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
                    creator = cs;
                    creatorMaint = cm;
                    createdBy = admin != null ? "admin" : "self";
                    LOG.info("created PostgreSQL database \"{}\" owned by \"{}\"{}", dbname, plan.user(),
                            admin != null ? " through the admin connection (" + admin.describe() + ")" : "");
                } else if (plan.aside() != null) {
                    terminate(s, plan.maint(), dbname);
                }
                try {
                    load(s, pgRestore, dbname, dump, plan.aside(), options.keepPrevious());
                } catch (OutcomeUnknown e) {
                    ok = true; // it may have committed: a database holding the restored data is not ours to drop
                    throw e;
                }
                ok = true;
                // Committed: from here on nothing may throw, a failure would be reported as a failed restore.
                boolean dropped = plan.aside() != null && !options.keepPrevious()
                        && !asideKept(s, dbname, plan.aside());
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
                        dropDatabase(creator, creatorMaint, dbname);
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
     * Large objects, the only thing pg_restore wraps in its own transaction (whose {@code COMMIT}
     * would commit ours midway), are refused: their {@code BEGIN} line stops the load before the
     * block containing it is sent (Synapse has none, and {@link PostgresDump} leaves them out).
     */
    private void load(PgSession s, PgTools.Version pgRestore, String dbname, InputStream dump, String aside,
            boolean keepPrevious) throws IOException {
        ProcessBuilder gb = new ProcessBuilder(pgRestore.path().toString(), "--no-owner", "--no-privileges", "-f", "-");
        dev.synapsebackup.config.ChildEnvironment.scrubForLibpq(gb.environment()).put("LC_ALL", "C");
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
                toPsql.write(("BEGIN;\n" + (aside != null ? moveAsideSql(aside) : "")).getBytes(StandardCharsets.UTF_8));
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
                                throw new IOException(LARGE_OBJECTS_REFUSED);
                            }
                        }
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
                        // objects elsewhere that depend on the old contents would go with them: keep those then
                        + (aside != null && !keepPrevious ? "DO $synapse_backup$BEGIN IF NOT EXISTS ("
                                + asideDependentsSql(aside) + ") THEN DROP SCHEMA " + ident(aside)
                                + " CASCADE; END IF; END$synapse_backup$;\n" : "")
                        + "COMMIT;\n";
                try {
                    toPsql.write(end.getBytes(StandardCharsets.UTF_8));
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
            int rc = commitSent ? waitForCommit(psql, s, dbname) : waitFor(psql, s, dbname);
            if (rc != 0 || !committed) {
                String err = safeStderr(psqlErr.text());
                String why = (failure != null ? ": " + failure : "") + (err.isBlank() ? "" : " (psql: " + oneLine(err) + ")");
                if (commitSent && rc != 3) {
                    // 3: a statement failed, so the server rolled back; otherwise (e.g. the connection was lost
                    // after COMMIT was sent) it may have committed
                    throw new OutcomeUnknown(SynapseBackupException.FAILED, "loading the dump into "
                            + s.describe(dbname) + " failed after COMMIT was sent" + why + "; whether it was committed"
                            + " is unknown: check the database before starting Synapse");
                }
                throw new SynapseBackupException("loading the dump into " + s.describe(dbname) + " failed" + why
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

    /** Waits for psql after COMMIT was sent: an interrupt then leaves the outcome unknown. */
    private static int waitForCommit(Process p, PgSession s, String dbname) {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new OutcomeUnknown(SynapseBackupException.INTERRUPTED, "interrupted while restoring "
                    + s.describe(dbname) + " after COMMIT was sent: whether it was committed is unknown;"
                    + " check the database before starting Synapse");
        }
    }

    /** The bytes of pg_restore's {@code BEGIN} line before large objects' data. */
    private static final byte[] LO_BEGIN = "\nBEGIN;\n".getBytes(StandardCharsets.US_ASCII);

    /**
     * psql's stderr without row data: the value in {@code CONTEXT: COPY t, line N, column c: "…"}
     * and in {@code DETAIL: Key (…)=(…)} or {@code Failing row contains (…)} is cut.
     */
    static String safeStderr(String err) {
        return err.replaceAll("(?m)^(CONTEXT:\\s+COPY .*?, line \\d+(?:, column [^:\n]*)?):.*$", "$1: …")
                .replaceAll("(?m)^(DETAIL:\\s+Key \\([^\n]*?\\))=\\(.*$", "$1=(…) …")
                .replaceAll("(?m)^(DETAIL:\\s+Failing row contains).*$", "$1 (…).");
    }

    private static String oneLine(String s) {
        return s.strip().replaceAll("\\s*\n\\s*", " | ");
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
        return list(dump, true);
    }

    /**
     * {@code pg_restore --list} of {@code dump}; with {@code whole}, reads it to its end (else stops
     * when pg_restore has read the table of contents, and {@code bytes}/{@code sha256} cover only
     * what was read).
     */
    private Listing list(InputStream dump, boolean whole) throws IOException {
        Path exe = tools.find("pg_restore");
        ProcessBuilder pb = new ProcessBuilder(exe.toString(), "--list");
        dev.synapsebackup.config.ChildEnvironment.scrubForLibpq(pb.environment()).put("LC_ALL", "C");
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
                    + (e.isBlank() ? "exit code " + rc : e.strip().replaceAll("\\s*\n\\s*", " | ")) + ")");
        }
        return new Listing(entries.get(), count[0], Sha256.hex(sha.digest()), largeObjects.get());
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
