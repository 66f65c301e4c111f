package dev.synapsebackup.synapse;

/** Quoting for the SQL the restore sends and for the shell commands its messages name. */
final class PgQuote {
    private PgQuote() {
    }

    /** A quoted SQL identifier. */
    static String ident(String name) {
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("NUL in identifier");
        }
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    /** A quoted SQL string literal. */
    static String literal(String value) {
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("NUL in literal");
        }
        return "'" + value.replace("'", "''") + "'";
    }

    /** A POSIX shell word: as is when that is safe, else single-quoted. */
    static String shell(String s) {
        return s.matches("[A-Za-z0-9_./:=@-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}
