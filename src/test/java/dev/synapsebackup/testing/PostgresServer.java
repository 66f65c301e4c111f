package dev.synapsebackup.testing;

import dev.synapsebackup.config.Secret;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.PgTools;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real, throwaway PostgreSQL server for tests (JUnit 5 extension; register it with
 * {@code @RegisterExtension static}). It uses Debian's server binaries
 * ({@code /usr/lib/postgresql/<newest>/bin/{initdb,pg_ctl}}), initialises a cluster in a temporary
 * directory with SCRAM password authentication, listens only on 127.0.0.1 on a free port with
 * no Unix socket, and is stopped and deleted after the test class.
 *
 * <p>PostgreSQL refuses to run as root, so when the tests run as root the data directory is
 * given to {@code nobody} and {@code initdb}/{@code pg_ctl} run through {@code runuser -u nobody}
 * (util-linux, always on Debian). The clients (pg_dump, psql) still run as the test's user and
 * connect over TCP with passwords.
 *
 * <p>Missing binaries fail the tests (they are never skipped): {@code bin/install-deps --test}
 * installs them.
 */
public final class PostgresServer implements BeforeAllCallback, AfterAllCallback {
    /** Superuser created by initdb. */
    public static final String SUPERUSER = "postgres";
    /** Its password. */
    public static final String SUPERUSER_PASSWORD = "super-secret-pw";
    /** The Synapse-like role: LOGIN CREATEDB, not superuser. */
    public static final String USER = "synapse_user";
    /** Its password; deliberately with characters that need escaping in a passfile. */
    public static final String PASSWORD = "s3cr:et\\pw'x";
    /** Synapse's documented role: made by {@code createuser} (LOGIN, no CREATEDB, not superuser). */
    public static final String DOC_USER = "synapse_doc";
    /** Its password. */
    public static final String DOC_PASSWORD = "d0c:pw\\'y";

    private static final String RUN_AS = "nobody";

    private Path base;
    private Path data;
    private Path bin;
    private int port;
    private boolean asRoot;
    private boolean started;
    private boolean peerSocket;
    private Path socketDir;

    /**
     * Also listen on a Unix socket (in the server's temporary directory) where the OS user
     * {@code postgres} logs in as role {@code postgres} by peer authentication, and every other
     * role by password: Debian's {@code sudo -u postgres psql} setup. Needs root (the server runs
     * as {@code nobody}, the peer client as {@code postgres}).
     */
    public PostgresServer withPeerSocket() {
        this.peerSocket = true;
        return this;
    }

    /** The Unix socket directory ({@link #withPeerSocket()}), else {@code null}. */
    public Path socketDir() {
        return socketDir;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        stop();
    }

    /** Initialises and starts the server, and creates {@link #USER}. */
    public void start() throws IOException, InterruptedException {
        bin = findBin();
        asRoot = "0".equals(run(List.of("id", "-u"), false).strip());
        base = Files.createTempDirectory("synapse-backup-pg-");
        data = base.resolve("data");
        Path pwFile = base.resolve("pw");
        Files.writeString(pwFile, SUPERUSER_PASSWORD + "\n");
        if (asRoot) {
            UserPrincipal nobody = base.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(RUN_AS);
            Files.setOwner(base, nobody);
            Files.setOwner(pwFile, nobody);
        }
        Files.setPosixFilePermissions(pwFile, PosixFilePermissions.fromString("rw-------"));
        run(asServerUser(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", SUPERUSER,
                "--auth=scram-sha-256", "--pwfile=" + pwFile, "-E", "UTF8", "--locale=C", "--no-sync"), true);
        port = freePort();
        String sockets = "''";
        if (peerSocket) {
            if (!asRoot) {
                throw new IllegalStateException("a peer-authentication socket needs the tests to run as root");
            }
            socketDir = Files.createDirectory(base.resolve("sock"));
            UserPrincipal nobody = base.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(RUN_AS);
            Files.setOwner(socketDir, nobody);
            Files.setPosixFilePermissions(socketDir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx--x--x"));
            sockets = "'" + socketDir + "'";
            Files.writeString(data.resolve("pg_hba.conf"), String.join("\n", "local all postgres peer",
                    "local all all scram-sha-256", "host all all 127.0.0.1/32 scram-sha-256", ""));
        }
        Files.writeString(data.resolve("postgresql.conf"), String.join("\n",
                "", "port = " + port, "listen_addresses = '127.0.0.1'", "unix_socket_directories = " + sockets,
                "fsync = off", "synchronous_commit = off", "full_page_writes = off", "max_connections = 40",
                "shared_buffers = 16MB", ""), StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
        run(asServerUser(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", base.resolve("log").toString(),
                "-w", "-t", "60", "start"), true);
        started = true;
        superSql("postgres", "CREATE ROLE " + USER + " LOGIN CREATEDB PASSWORD '" + PASSWORD.replace("'", "''") + "'");
        superSql("postgres", "CREATE ROLE " + DOC_USER + " LOGIN NOCREATEDB NOSUPERUSER PASSWORD '"
                + DOC_PASSWORD.replace("'", "''") + "'");
    }

    /** Stops the server (immediately) and deletes its directory. */
    public void stop() throws IOException, InterruptedException {
        try {
            if (started) {
                run(asServerUser(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w",
                        "stop"), false);
                started = false;
            }
        } finally {
            if (base != null) {
                try (Stream<Path> s = Files.walk(base)) {
                    for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }

    /** The TCP port on 127.0.0.1. */
    public int port() {
        return port;
    }

    /** The server's bin directory, e.g. {@code /usr/lib/postgresql/15/bin}. */
    public Path binDir() {
        return bin;
    }

    /** A Synapse database config for {@code dbname} as {@link #USER} with {@code password}. */
    public DatabaseConfig.Postgres config(String dbname, String password) {
        return new DatabaseConfig.Postgres("127.0.0.1", port, USER, password == null ? null : Secret.of(password),
                dbname, Map.of("sslmode", "disable"));
    }

    /** A Synapse database config for {@code dbname} as {@link #USER} with the right password. */
    public DatabaseConfig.Postgres config(String dbname) {
        return config(dbname, PASSWORD);
    }

    /** A Synapse database config for {@code dbname} as {@link #DOC_USER}, Synapse's documented role. */
    public DatabaseConfig.Postgres docConfig(String dbname) {
        return new DatabaseConfig.Postgres("127.0.0.1", port, DOC_USER, Secret.of(DOC_PASSWORD), dbname,
                Map.of("sslmode", "disable"));
    }

    /**
     * Creates {@code dbname} exactly as Synapse's docs do: by the superuser, {@code OWNER owner}
     * ({@code createdb --encoding=UTF8 --locale=C --template=template0 --owner=owner}).
     */
    public void createSynapseDatabase(String dbname, String owner) throws IOException, InterruptedException {
        superSql("postgres", "CREATE DATABASE " + dbname + " OWNER " + owner
                + " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    }

    /** Runs SQL as {@link #DOC_USER}. */
    public String docSql(String dbname, String sql) throws IOException, InterruptedException {
        return psql(DOC_USER, DOC_PASSWORD, dbname, sql);
    }

    /** Creates {@code dbname} as Synapse requires, owned by {@link #USER}. */
    public void createSynapseDatabase(String dbname) throws IOException, InterruptedException {
        superSql("postgres", "CREATE DATABASE " + dbname + " OWNER " + USER
                + " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    }

    /** Runs SQL as the superuser with psql; returns unaligned, tuples-only output ({@code |} between fields). */
    public String superSql(String dbname, String sql) throws IOException, InterruptedException {
        return psql(SUPERUSER, SUPERUSER_PASSWORD, dbname, sql);
    }

    /** Runs SQL as {@link #USER}. */
    public String userSql(String dbname, String sql) throws IOException, InterruptedException {
        return psql(USER, PASSWORD, dbname, sql);
    }

    /** Starts psql as {@link #USER} running {@code sql} in the background (e.g. a writer loop). */
    public Process userSqlAsync(String dbname, String sql) throws IOException {
        ProcessBuilder pb = psqlBuilder(USER, PASSWORD, dbname, sql);
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        return pb.start();
    }

    private String psql(String user, String password, String dbname, String sql) throws IOException, InterruptedException {
        ProcessBuilder pb = psqlBuilder(user, password, dbname, sql);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("psql on " + dbname + " failed: " + out + "\nSQL: " + sql);
        }
        return out.strip();
    }

    private ProcessBuilder psqlBuilder(String user, String password, String dbname, String sql) {
        ProcessBuilder pb = new ProcessBuilder(bin.resolve("psql").toString(), "-X", "-q", "-A", "-t", "-v",
                "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", user, "-d", dbname, "-c", sql);
        pb.environment().put("PGPASSWORD", password);
        pb.environment().put("LC_ALL", "C");
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        return pb;
    }

    private List<String> asServerUser(String... cmd) {
        List<String> out = new ArrayList<>();
        if (asRoot) {
            out.addAll(List.of("runuser", "-u", RUN_AS, "--"));
        }
        out.addAll(List.of(cmd));
        return out;
    }

    private String run(List<String> cmd, boolean check) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (base != null) {
            pb.directory(base.toFile()); // a directory the server user can enter
        }
        pb.environment().put("LC_ALL", "C");
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + cmd);
        }
        if (check && p.exitValue() != 0) {
            String log = base != null && Files.exists(base.resolve("log")) ? Files.readString(base.resolve("log")) : "";
            throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out + log);
        }
        return out;
    }

    private static Path findBin() {
        for (Path dir : debianBinDirs()) {
            if (Files.isExecutable(dir.resolve("initdb")) && Files.isExecutable(dir.resolve("pg_ctl"))
                    && Files.isExecutable(dir.resolve("postgres"))) {
                return dir;
            }
        }
        throw new IllegalStateException("the PostgreSQL server binaries (" + PgTools.DEBIAN_ROOT
                + "/<version>/bin/initdb, pg_ctl, postgres) are missing: run bin/install-deps --test"
                + " (it installs Debian's postgresql package)");
    }

    private static List<Path> debianBinDirs() {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(PgTools.DEBIAN_ROOT)) {
            return out;
        }
        try (Stream<Path> s = Files.list(PgTools.DEBIAN_ROOT)) {
            s.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .sorted(Comparator.comparingInt((Path p) -> Integer.parseInt(p.getFileName().toString())).reversed())
                    .forEach(p -> out.add(p.resolve("bin")));
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
