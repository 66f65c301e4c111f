package dev.synapsebackup.synapse;

import dev.synapsebackup.config.Secret;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The database of a homeserver, as its configuration describes it (Synapse's {@code database:}
 * section, or the single entry of {@code databases:}).
 */
public sealed interface DatabaseConfig permits DatabaseConfig.Sqlite, DatabaseConfig.Postgres {

    /**
     * An SQLite database ({@code name: sqlite3}).
     *
     * @param path absolute path of the database file ({@code args.database})
     */
    record Sqlite(Path path) implements DatabaseConfig {
        public Sqlite {
            Objects.requireNonNull(path, "path");
        }
    }

    /**
     * A PostgreSQL database ({@code name: psycopg2}). Fields that the configuration leaves out
     * are {@code null} (host, user, dbname) so that libpq's own defaults and environment apply.
     *
     * @param host host name or Unix socket directory, or {@code null}
     * @param port TCP port, 5432 unless configured
     * @param user role name, or {@code null}
     * @param password the password, or {@code null}; {@link Secret} never prints itself
     * @param dbname database name ({@code dbname} or {@code database} in the args), or {@code null}
     * @param otherArgs any other libpq connection arguments (e.g. {@code sslmode}), as strings;
     *     the connection-pool settings {@code cp_*} are left out
     */
    record Postgres(String host, int port, String user, Secret password, String dbname,
            Map<String, String> otherArgs) implements DatabaseConfig {
        public Postgres {
            // Sorted, so that output built from it is stable.
            otherArgs = Collections.unmodifiableMap(new TreeMap<>(otherArgs));
        }

        /** The password, if one is configured. */
        public Optional<Secret> passwordIfSet() {
            return Optional.ofNullable(password);
        }
    }
}
