package dev.synapsebackup.config;

import java.util.Locale;
import java.util.Map;

/**
 * The environment of the processes the tool starts. The tool's own secrets — the backup
 * passphrase ({@code SYNAPSE_BACKUP_PASSPHRASE}, the identity passphrase file), the AWS secret
 * key and session token — and any other variable whose name says it holds a secret are removed:
 * Synapse's service commands, and whatever they start, need none of them. The PostgreSQL client
 * programs keep libpq's own {@code PG*} variables (the password itself goes in a passfile, see
 * {@code PgSession}).
 */
public final class ChildEnvironment {
    private static final String[] SECRET_WORDS = {"PASSPHRASE", "PASSWORD", "SECRET", "TOKEN", "CREDENTIAL",
        "PRIVATE_KEY", "API_KEY", "ACCESS_KEY"};

    private ChildEnvironment() {
    }

    /** Whether a variable of this name holds (or names the file of) a secret. */
    public static boolean isSecret(String name) {
        String n = name.toUpperCase(Locale.ROOT);
        if (n.startsWith("SYNAPSE_BACKUP_") && (n.contains("PASSPHRASE") || n.contains("IDENTITY"))) {
            return true;
        }
        if (n.startsWith("AWS_") && !n.equals("AWS_REGION") && !n.equals("AWS_DEFAULT_REGION")
                && !n.equals("AWS_ENDPOINT_URL") && !n.equals("AWS_PROFILE")) {
            return true; // keys, tokens, credential files and URIs: none belong to a child
        }
        for (String w : SECRET_WORDS) {
            if (n.contains(w)) {
                return true;
            }
        }
        return false;
    }

    /** Removes every secret from {@code env} (a {@link ProcessBuilder#environment()}). */
    public static Map<String, String> scrub(Map<String, String> env) {
        env.keySet().removeIf(ChildEnvironment::isSecret);
        return env;
    }

    /**
     * Removes every secret except libpq's own variables ({@code PG*}), which the PostgreSQL client
     * programs read.
     */
    public static Map<String, String> scrubForLibpq(Map<String, String> env) {
        env.keySet().removeIf(k -> !k.startsWith("PG") && isSecret(k));
        return env;
    }
}
