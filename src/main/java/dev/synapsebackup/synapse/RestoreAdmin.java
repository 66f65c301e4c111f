package dev.synapsebackup.synapse;

import static dev.synapsebackup.synapse.PgQuote.ident;
import static dev.synapsebackup.synapse.PgQuote.literal;
import static dev.synapsebackup.synapse.PgQuote.shell;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.PostgresAdmin;
import java.nio.file.Path;
import java.util.Map;

/**
 * The database-level side of a restore, run in a maintenance database: the optional admin
 * connection (config {@code postgres}: {@code admin-os-user} for peer authentication, or
 * {@code admin-user} with a password) that creates a missing database, the commands an admin
 * must run where none is configured, and creating, dropping and ending sessions of a database.
 * The admin connection is never used for anything else, and never unless configured.
 */
final class RestoreAdmin {
    private final PostgresAdmin admin;
    private final PgTools tools;
    private final Path tempDir;

    /**
     * @param admin   the admin connection, or {@code null} (none configured)
     * @param tools   where to find {@code psql}
     * @param tempDir directory for temporary passfiles, or {@code null} for the system one
     */
    RestoreAdmin(PostgresAdmin admin, PgTools tools, Path tempDir) {
        this.admin = admin;
        this.tools = tools;
        this.tempDir = tempDir;
    }

    boolean configured() {
        return admin != null;
    }

    /** The admin connection, for messages. */
    String describe() {
        return admin.describe();
    }

    /** A session of the admin connection to the server of {@code db}. */
    PgSession session(DatabaseConfig.Postgres db) {
        if (admin.osUser() != null) {
            // Peer authentication works over the Unix socket only: the configured socket directory, else libpq's default.
            String host = db.host() != null && db.host().startsWith("/") ? db.host() : null;
            return new PgSession(new DatabaseConfig.Postgres(host, db.port(), admin.user(), null, null, Map.of()),
                    tools, tempDir, admin.osUser());
        }
        return new PgSession(new DatabaseConfig.Postgres(db.host(), db.port(), admin.user(), admin.password().orElse(null),
                null, db.otherArgs()), tools, tempDir);
    }

    /** Checks that the admin connection may create databases, for the missing database {@code dbname}. */
    void checkMayCreate(PgSession s, DatabaseConfig.Postgres db, String dbname, String user) {
        try (PgSession a = session(db)) {
            String am = maintenanceDb(a);
            if (!"t".equals(a.query(am, "SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles"
                    + " WHERE rolname = current_user").get(0)[0].trim())) {
                throw new SynapseBackupException("the PostgreSQL admin connection (" + admin.describe()
                        + ", config \"postgres\") may not create databases; " + missingDatabase(s, db, dbname, user));
            }
        }
    }

    /** An authentication failure, with what to do on a new server where Synapse's role does not exist yet. */
    SynapseBackupException authHint(SynapseBackupException e, DatabaseConfig.Postgres db) {
        if (!e.getMessage().startsWith("PostgreSQL authentication failed") || db.user() == null) {
            return e;
        }
        if (admin != null) {
            try (PgSession a = session(db)) {
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
                    + "sudo -u postgres createuser" + serverArgs(db) + " --pwprompt " + shell(db.user()), e);
        }
        return new SynapseBackupException(e.getMessage() + ". On a new PostgreSQL server, an admin must first create"
                + " Synapse's role with the password from homeserver.yaml:\n  sudo -u postgres createuser" + serverArgs(db)
                + " --pwprompt " + shell(db.user()), e);
    }

    /** The message for a missing database that nobody configured may create, with the commands to create it. */
    static String missingDatabase(PgSession s, DatabaseConfig.Postgres db, String dbname, String user) {
        return "PostgreSQL " + s.describe(dbname) + " does not exist, and role \"" + user + "\" may not create"
                + " databases (no CREATEDB, as in Synapse's documented setup). Have an admin create it as Synapse"
                + " requires, then run the restore again:\n  sudo -u postgres createdb" + serverArgs(db)
                + " --encoding=UTF8 --locale=C --template=template0 --owner=" + shell(user) + " " + shell(dbname)
                + "\nor configure an admin connection in synapse-backup's config (postgres: {admin-os-user: postgres},"
                + " or admin-user with admin-password-file) and the restore creates it";
    }

    /** {@code -h}/{@code -p} for commands an admin runs as {@code postgres} on the database server. */
    static String serverArgs(DatabaseConfig.Postgres db) {
        String h = db.host();
        boolean local = h == null || h.equals("localhost") || h.equals("127.0.0.1") || h.equals("::1");
        return (local ? "" : " -h " + shell(h)) + (db.port() == 5432 ? "" : " -p " + db.port());
    }

    /** {@code postgres}, or {@code template1} where there is no {@code postgres} database. */
    static String maintenanceDb(PgSession s) {
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

    /** Creates {@code dbname} as Synapse requires, owned by {@code owner}. */
    static void createDatabase(PgSession s, String maint, String dbname, String owner) {
        s.query(maint, "CREATE DATABASE " + ident(dbname) + " WITH OWNER " + ident(owner)
                + " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    }

    static void dropDatabase(PgSession s, String maint, String name) {
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
    static void terminate(PgSession s, String maint, String dbname) {
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
}
