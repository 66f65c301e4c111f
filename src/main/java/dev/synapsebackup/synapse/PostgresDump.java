package dev.synapsebackup.synapse;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.io.Sha256;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * Dumps a Synapse PostgreSQL database with {@code pg_dump -Fc} straight into the archive, in
 * consecutive chunks, without a temporary copy of the dump on disk.
 *
 * <p>A tar entry must declare its size before its data, and {@code pg_dump}'s output size is
 * unknown until it ends. So the dump is cut into chunks of at most {@link #chunkSize()} bytes,
 * stored as the tar entries {@code .synapse-backup/postgresql/<dbname>.pgdump.000001},
 * {@code .000002}, … (see {@link #chunkName}); concatenated in order they are the dump
 * ({@code cat <dbname>.pgdump.* > <dbname>.pgdump}). One reusable buffer of the chunk size holds
 * the chunk being filled, so memory stays bounded whatever the database's size.
 *
 * <p>The last chunk is handed out only after {@code pg_dump} has exited successfully: a failed
 * or killed {@code pg_dump} throws before the dump is complete in the archive, and the caller
 * must then abort the backup (the archive is incomplete).
 *
 * <p>Large objects are left out ({@code -B}; Synapse uses none), so that a restore can load the
 * dump in one transaction. {@code e2e_one_time_keys_json}'s rows are left out ({@code --exclude-table-data}): a
 * one-time key must never be handed out twice, and a restored server would hand out keys that
 * clients have already used.
 */
public final class PostgresDump {
    /** Default chunk size: 16 MiB, one buffer of it is held in memory. */
    public static final int DEFAULT_CHUNK_SIZE = 16 << 20;
    /** Largest chunk size accepted (64 MiB). */
    public static final int MAX_CHUNK_SIZE = 64 << 20;
    /** Directory of dump entries inside the archive. */
    public static final String ENTRY_DIR = ".synapse-backup/postgresql/";
    /** The table whose data is never dumped. */
    public static final String EXCLUDED_TABLE_DATA = "e2e_one_time_keys_json";
    /** The manifest's {@code method} value. */
    public static final String METHOD = "pg_dump -Fc";
    private static final int MAX_CHUNKS = 999_999;

    /**
     * Receives the dump's chunks, in order. The stream is backed by a reused buffer: the sink
     * must read all {@code size} bytes before returning (as {@code TarWriter.addStream} does).
     */
    @FunctionalInterface
    public interface ChunkSink {
        /**
         * One chunk.
         *
         * @param entryName the tar entry name, {@link #chunkName}
         * @param data      exactly {@code size} bytes
         * @param size      1 to the chunk size
         */
        void chunk(String entryName, InputStream data, long size) throws IOException;
    }

    /**
     * Facts about the database, read before the dump.
     *
     * @param dbname           the database's name ({@code current_database()})
     * @param serverVersion    {@code server_version}, e.g. {@code "15.18 (Debian 15.18-0+deb12u1)"}
     * @param serverVersionNum {@code server_version_num}, e.g. 150018
     * @param encoding         the database's encoding (Synapse requires {@code UTF8})
     * @param collation        its {@code LC_COLLATE} (Synapse requires {@code C})
     * @param ctype            its {@code LC_CTYPE} (Synapse requires {@code C})
     * @param schemaVersion    Synapse's {@code schema_version.version}, or {@code null} if the
     *                         table is missing (not a Synapse database, or not yet initialised)
     * @param user             the role connected ({@code current_user})
     */
    public record ServerInfo(String dbname, String serverVersion, int serverVersionNum, String encoding,
            String collation, String ctype, Integer schemaVersion, String user) {
        /** The server's major version (15 for 150018; 9 for 90624). */
        public int serverMajor() {
            return serverVersionNum >= 100000 ? serverVersionNum / 10000 : serverVersionNum / 100;
        }
    }

    /**
     * The outcome of a dump.
     *
     * @param entries       the tar entry names of the chunks, in order
     * @param bytes         the dump's total size
     * @param sha256        lower-case hex SHA-256 of the whole (concatenated) dump
     * @param pgDumpVersion first line of {@code pg_dump --version}
     * @param server        facts about the database
     * @param host          the configured host (or {@code null}: libpq's default)
     * @param port          the configured port
     */
    public record Result(List<String> entries, long bytes, String sha256, String pgDumpVersion, ServerInfo server,
            String host, int port) {
        public Result {
            entries = List.copyOf(entries);
        }
    }

    private final PgTools tools;
    private final int chunkSize;
    private final Path tempDir;

    /** System client programs, 16 MiB chunks, passfile in the system temp directory. */
    public PostgresDump() {
        this(PgTools.system(), DEFAULT_CHUNK_SIZE, null);
    }

    /**
     * @param tools     where to find {@code pg_dump} and {@code psql}
     * @param chunkSize chunk size in bytes, 1 to {@link #MAX_CHUNK_SIZE}
     * @param tempDir   directory for the temporary passfile, or {@code null} for the system one
     */
    public PostgresDump(PgTools tools, int chunkSize, Path tempDir) {
        if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
            throw new IllegalArgumentException("chunk size must be 1 to " + MAX_CHUNK_SIZE + " bytes: " + chunkSize);
        }
        this.tools = tools;
        this.chunkSize = chunkSize;
        this.tempDir = tempDir;
    }

    /** The chunk size in bytes. */
    public int chunkSize() {
        return chunkSize;
    }

    /**
     * The tar entry name of chunk {@code index} (1-based) of the dump of {@code dbname}:
     * {@code .synapse-backup/postgresql/<dbname>.pgdump.000001}. Characters of the name other
     * than letters, digits, {@code _ . -} are replaced by {@code _}.
     */
    public static String chunkName(String dbname, int index) {
        if (index < 1 || index > MAX_CHUNKS) {
            throw new IllegalArgumentException("chunk index out of range: " + index);
        }
        return ENTRY_DIR + safeName(dbname) + ".pgdump." + String.format("%06d", index);
    }

    static String safeName(String dbname) {
        String s = dbname.replaceAll("[^A-Za-z0-9_.-]", "_");
        return s.isEmpty() || s.startsWith(".") ? "_" + s : s;
    }

    /**
     * Connects with psql and reads the facts recorded in the manifest. Doubles as a connection
     * check: authentication failures and an unreachable server are reported here, before
     * anything is dumped.
     */
    public ServerInfo probe(DatabaseConfig.Postgres db) {
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            return probe(s);
        }
    }

    static ServerInfo probe(PgSession s) {
        List<String[]> rows = s.query(s.config().dbname(),
                "SELECT current_database(), current_setting('server_version'), current_setting('server_version_num'),"
                + " pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, current_user,"
                + " to_regclass('schema_version') IS NOT NULL"
                + " FROM pg_database d WHERE d.datname = current_database()");
        if (rows.size() != 1 || rows.get(0).length != 8) {
            throw new SynapseBackupException("unexpected answer from psql about " + s.describe(s.config().dbname()));
        }
        String[] r = rows.get(0);
        Integer schemaVersion = null;
        if ("t".equals(r[7])) {
            List<String[]> v = s.query(r[0], "SELECT version FROM schema_version");
            if (!v.isEmpty() && !v.get(0)[0].isEmpty()) {
                schemaVersion = Integer.valueOf(v.get(0)[0].trim());
            }
        }
        return new ServerInfo(r[0], r[1], Integer.parseInt(r[2].trim()), r[3], r[4], r[5], schemaVersion, r[6]);
    }

    /**
     * Runs {@code pg_dump -Fc -B --exclude-table-data=e2e_one_time_keys_json} on the database and
     * hands its output to {@code sink} in chunks.
     *
     * @throws SynapseBackupException (exit 1) pg_dump or psql is missing, older than the
     *     server, cannot connect or authenticate, fails or is killed; the message names the cause
     *     and the server. The archive is then incomplete and must be discarded.
     * @throws IOException the sink failed (pg_dump is then killed)
     */
    public Result dump(DatabaseConfig.Postgres db, ChunkSink sink) throws IOException {
        tools.find("psql");
        PgTools.Version pgDump = tools.version("pg_dump");
        try (PgSession s = new PgSession(db, tools, tempDir)) {
            ServerInfo info = probe(s);
            if (pgDump.major() < info.serverMajor()) {
                throw new SynapseBackupException("pg_dump " + pgDump.major() + " (" + pgDump.path()
                        + ") is older than the PostgreSQL " + info.serverMajor() + " server of " + s.describe(info.dbname())
                        + ": install postgresql-client-" + info.serverMajor() + " or newer");
            }
            List<String> cmd = List.of(pgDump.path().toString(), "-Fc", "-w",
                    // no large objects (Synapse has none): pg_restore wraps their data in its own
                    // transaction, which would commit the restore's single transaction midway
                    "-B",
                    "--exclude-table-data=" + EXCLUDED_TABLE_DATA,
                    // contents a restore --keep-previous kept aside: not Synapse's, and would double every backup
                    "--exclude-schema=" + PostgresRestore.ASIDE_PREFIX + "*", "-d", s.conninfo(info.dbname()));
            ProcessBuilder pb = s.builder(cmd);
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Process p = pb.start();
            PgSession.StderrTail err = PgSession.StderrTail.start(p, "pg_dump");
            boolean done = false;
            try (InputStream in = p.getInputStream()) {
                Result r = copyChunks(s, info, pgDump, p, err, in, sink);
                done = true;
                return r;
            } finally {
                if (!done) {
                    p.destroyForcibly();
                    try {
                        p.waitFor();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        }
    }

    private Result copyChunks(PgSession s, ServerInfo info, PgTools.Version pgDump, Process p,
            PgSession.StderrTail err, InputStream in, ChunkSink sink) throws IOException {
        byte[] buf = new byte[chunkSize];
        MessageDigest sha = Sha256.newDigest();
        List<String> entries = new ArrayList<>();
        long total = 0;
        int carry = -1;
        while (true) {
            int n = 0;
            if (carry >= 0) {
                buf[n++] = (byte) carry;
                carry = -1;
            }
            n += in.readNBytes(buf, n, chunkSize - n);
            boolean eof = n < chunkSize;
            if (!eof) {
                // One byte of look-ahead: the last chunk is only handed out once pg_dump has exited well.
                carry = in.read();
                eof = carry < 0;
            }
            if (eof) {
                int rc = waitFor(p, s, info);
                if (rc != 0) {
                    throw s.failure("pg_dump", info.dbname(), rc, err.text());
                }
                if (n == 0 && entries.isEmpty()) {
                    throw new SynapseBackupException("pg_dump wrote nothing for " + s.describe(info.dbname()));
                }
            }
            if (n > 0) {
                if (entries.size() == MAX_CHUNKS) {
                    throw new SynapseBackupException("the dump of " + s.describe(info.dbname()) + " exceeds "
                            + MAX_CHUNKS + " chunks of " + chunkSize + " bytes");
                }
                String name = chunkName(info.dbname(), entries.size() + 1);
                sha.update(buf, 0, n);
                sink.chunk(name, new ByteArrayInputStream(buf, 0, n), n);
                entries.add(name);
                total += n;
            }
            if (eof) {
                return new Result(entries, total, Sha256.hex(sha.digest()), pgDump.text(), info, s.config().host(),
                        s.config().port());
            }
        }
    }

    private static int waitFor(Process p, PgSession s, ServerInfo info) {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED,
                    "interrupted while dumping " + s.describe(info.dbname()));
        }
    }
}
