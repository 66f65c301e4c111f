package dev.synapsebackup.synapse;

import static dev.synapsebackup.synapse.PgQuote.ident;
import static dev.synapsebackup.synapse.PgQuote.literal;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.SynapseBackupException;
import java.util.ArrayList;
import java.util.List;

/**
 * What a restore will do, found by checks that change nothing: whether the database exists (and
 * who may create it), and whether Synapse's role has the rights a restore over it needs (create
 * in schema {@code public}; with existing tables, create a schema and own everything it moves
 * aside).
 *
 * @param maint  the maintenance database of Synapse's role's session
 * @param user   Synapse's role
 * @param exists whether the database exists
 * @param aside  the schema the old contents go to, or {@code null} (none to move)
 */
record RestorePlan(String maint, String user, boolean exists, String aside) {

    /** The database a restore targets: Synapse's {@code dbname}, else its user's name. */
    static String dbname(DatabaseConfig.Postgres db) {
        String dbname = db.dbname() != null ? db.dbname() : db.user();
        if (dbname == null) {
            throw new ConfigException("homeserver.yaml's database.args names no database (dbname)"
                    + " and no user: cannot tell which PostgreSQL database to restore");
        }
        return dbname;
    }

    /** Checks everything a restore needs; changes nothing. */
    static RestorePlan check(PgSession s, DatabaseConfig.Postgres db, String dbname, PostgresRestore.Options options,
            RestoreAdmin admin) {
        String maint;
        try {
            maint = RestoreAdmin.maintenanceDb(s);
        } catch (SynapseBackupException e) {
            throw admin.authHint(e, db);
        }
        String[] who = s.query(maint, "SELECT current_user, (SELECT count(*) FROM pg_catalog.pg_database WHERE datname = "
                + literal(dbname) + "), (SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)")
                .get(0);
        String user = who[0];
        boolean exists = !"0".equals(who[1].trim());
        if (!exists) {
            if (admin.configured()) {
                admin.checkMayCreate(s, db, dbname, user);
            } else if (!"t".equals(who[2].trim())) {
                throw new SynapseBackupException(RestoreAdmin.missingDatabase(s, db, dbname, user));
            }
            return new RestorePlan(maint, user, false, null);
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
            return new RestorePlan(maint, user, true, null);
        }
        if (!options.dropExisting()) {
            throw new SynapseBackupException("PostgreSQL " + s.describe(dbname) + " already exists and has "
                    + tables + " tables: refusing to restore over it (with --drop-existing its contents are replaced"
                    + " in one transaction, and kept in a schema with --keep-previous)");
        }
        String aside = SchemaSwap.asideName(options.asideSuffix());
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
        return new RestorePlan(maint, user, true, aside);
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
}
