package dev.synapsebackup.synapse;

import static dev.synapsebackup.synapse.PgQuote.ident;
import static dev.synapsebackup.synapse.PgQuote.literal;

import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SQL around the dump in the restore's one transaction: {@link #begin} moves the old
 * contents of schema {@code public} aside into {@code public_pre_restore_<suffix>} (when there
 * are any), {@link #commit} empties {@code e2e_one_time_keys_json}, drops the moved-aside schema
 * (unless it is kept, or objects outside it depend on it) and commits.
 */
final class SchemaSwap {
    /** Logs as the restore it is part of. */
    private static final Logger LOG = LoggerFactory.getLogger(PostgresRestore.class);
    private static final int MAX_IDENTIFIER = 63;

    private SchemaSwap() {
    }

    /** {@code public_pre_restore_<suffix>}, cut to PostgreSQL's 63-byte identifiers. */
    static String asideName(String suffix) {
        String name = PostgresRestore.ASIDE_PREFIX + (suffix != null ? suffix
                : LocalDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMddHHmmss")));
        while (name.getBytes(StandardCharsets.UTF_8).length > MAX_IDENTIFIER) {
            name = name.substring(0, name.length() - 1);
        }
        return name;
    }

    /** What is sent before the dump's script: {@code BEGIN}, then the move into {@code aside} (if not {@code null}). */
    static String begin(String aside) {
        return "BEGIN;\n" + (aside != null ? moveAsideSql(aside) : "");
    }

    /**
     * What is sent after the dump's script: empties the excluded table, drops {@code aside}
     * (if not {@code null} and not {@code keepPrevious}) and commits.
     */
    static String commit(String aside, boolean keepPrevious) {
        return "DO $synapse_backup$BEGIN IF pg_catalog.to_regclass('public." + PostgresDump.EXCLUDED_TABLE_DATA
                + "') IS NOT NULL THEN TRUNCATE public." + PostgresDump.EXCLUDED_TABLE_DATA + "; END IF; END"
                + "$synapse_backup$;\n"
                // objects elsewhere that depend on the old contents would go with them: keep those then
                + (aside != null && !keepPrevious ? "DO $synapse_backup$BEGIN IF NOT EXISTS ("
                        + asideDependentsSql(aside) + ") THEN DROP SCHEMA " + ident(aside)
                        + " CASCADE; END IF; END$synapse_backup$;\n" : "")
                + "COMMIT;\n";
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
    static boolean asideKept(PgSession s, String dbname, String aside) {
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
}
