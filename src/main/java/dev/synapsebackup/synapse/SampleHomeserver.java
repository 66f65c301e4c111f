package dev.synapsebackup.synapse;

import dev.synapsebackup.SynapseBackupException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Generates a sample homeserver laid out as Synapse lays it out, for demos, tests and the
 * benchmark. Everything is deterministic for a given {@link Options#seed()}: file names, contents
 * and mtimes.
 *
 * <pre>
 * DIR/etc/homeserver.yaml                  absolute paths into DIR, sqlite3 database
 * DIR/etc/sample.example.org.log.config
 * DIR/etc/sample.example.org.signing.key   "ed25519 a_XXXX &lt;base64 seed&gt;", mode 0600
 * DIR/data/homeserver.db                   SQLite, WAL mode, schema_version + users/rooms/events
 * DIR/data/media_store/local_content/ab/cd/efgh...
 * DIR/data/media_store/local_thumbnails/ab/cd/efgh.../32-32-image-png-crop
 * DIR/data/media_store/remote_content/SERVER/ab/cd/efgh...
 * DIR/data/media_store/remote_thumbnail/SERVER/ab/cd/efgh.../32-32-image-png-crop
 * DIR/data/media_store/url_cache/DATE/ID, url_cache_thumbnails/DATE/ID/32-32-image-png-crop
 * </pre>
 *
 * <p>Media content is random (incompressible) and written in streaming fashion from one
 * reusable buffer, so generating gigabytes needs no more memory than a small tree.
 */
public final class SampleHomeserver {
    /** The server name of the sample homeserver. */
    public static final String SERVER_NAME = "sample.example.org";
    /** The thumbnail file name used throughout (Synapse: width-height-type-subtype-method). */
    public static final String THUMBNAIL_NAME = "32-32-image-png-crop";

    private static final int BUFFER_SIZE = 1 << 20;
    private static final long KB = 1024;
    private static final long MB = 1024 * KB;
    private static final Instant BASE_MTIME = Instant.parse("2024-01-01T00:00:00Z");
    private static final String ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    private SampleHomeserver() {
    }

    /**
     * What to generate.
     *
     * @param localMediaFiles number of files in {@code local_content}; every fourth also gets a
     *     thumbnail in {@code local_thumbnails}
     * @param totalMediaBytes approximate total size of {@code local_content} plus
     *     {@code local_thumbnails}: local content sizes are drawn from the mix below and scaled
     *     to fit what the thumbnails leave
     * @param remoteMediaFiles number of remote media files (each with a thumbnail), plus one
     *     URL-preview file and thumbnail; small, not part of {@code totalMediaBytes}
     * @param dbSizeMb approximate size of the database's event data in MiB (0: a few rows)
     * @param seed seed of every random choice
     */
    public record Options(int localMediaFiles, long totalMediaBytes, int remoteMediaFiles, int dbSizeMb, long seed) {
        public Options {
            if (localMediaFiles < 0 || remoteMediaFiles < 0 || dbSizeMb < 0 || totalMediaBytes < 0) {
                throw new IllegalArgumentException("sample homeserver options must not be negative");
            }
            if (totalMediaBytes < localMediaFiles) {
                throw new IllegalArgumentException("totalMediaBytes must allow at least one byte per file");
            }
        }

        /** A tiny tree (a few files, well under 1 MB) for demos and tests. */
        public static Options defaults() {
            return new Options(6, 300 * KB, 2, 0, 42);
        }

        /** These options with another number of local media files and total media size. */
        public Options withMedia(int files, long totalBytes) {
            return new Options(files, totalBytes, remoteMediaFiles, dbSizeMb, seed);
        }

        /** These options with another database size. */
        public Options withDbSizeMb(int mb) {
            return new Options(localMediaFiles, totalMediaBytes, remoteMediaFiles, mb, seed);
        }

        /** These options with another seed. */
        public Options withSeed(long newSeed) {
            return new Options(localMediaFiles, totalMediaBytes, remoteMediaFiles, dbSizeMb, newSeed);
        }
    }

    /**
     * Lays out a sample homeserver in {@code dir} (created if needed) and returns the path of its
     * {@code homeserver.yaml}.
     *
     * @throws SynapseBackupException a file cannot be written
     */
    public static Path generate(Path dir, Options opts) {
        try {
            return new Generator(dir.toAbsolutePath().normalize(), opts).run();
        } catch (IOException | UncheckedIOException e) {
            throw new SynapseBackupException("cannot generate sample homeserver in " + dir + ": " + e.getMessage(), e);
        } catch (SQLException e) {
            throw new SynapseBackupException("cannot generate the sample database in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static final class Generator {
        private final Path dir;
        private final Options opts;
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_SIZE);
        private final SplittableRandom contentRandom;
        private final SplittableRandom idRandom;
        private long mtimeCounter;

        Generator(Path dir, Options opts) {
            this.dir = dir;
            this.opts = opts;
            SplittableRandom root = new SplittableRandom(opts.seed());
            this.contentRandom = root.split();
            this.idRandom = root.split();
        }

        Path run() throws IOException, SQLException {
            Path etc = Files.createDirectories(dir.resolve("etc"));
            Path data = Files.createDirectories(dir.resolve("data"));
            Path logs = Files.createDirectories(dir.resolve("logs"));
            Path media = Files.createDirectories(data.resolve("media_store"));
            Path db = data.resolve("homeserver.db");
            Path key = etc.resolve(SERVER_NAME + ".signing.key");
            Path logConfig = etc.resolve(SERVER_NAME + ".log.config");

            writeSigningKey(key);
            writeLogConfig(logConfig, logs.resolve("homeserver.log"));
            Path hs = etc.resolve("homeserver.yaml");
            writeHomeserverYaml(hs, db, media, logConfig, key, data.resolve("homeserver.pid"));
            writeDatabase(db);
            writeMedia(media);
            return hs;
        }

        private void writeSigningKey(Path key) throws IOException {
            byte[] seed = new byte[32];
            SplittableRandom r = idRandom.split();
            for (int i = 0; i < seed.length; i++) {
                seed[i] = (byte) r.nextInt(256);
            }
            String version = "a_" + randomId(r, 4);
            // signedjson's format: algorithm, version, unpadded base64 of the 32-byte seed.
            String line = "ed25519 " + version + " " + Base64.getEncoder().withoutPadding().encodeToString(seed) + "\n";
            Files.deleteIfExists(key);
            Files.writeString(key, line, StandardCharsets.US_ASCII);
            setPosixMode(key, "rw-------");
        }

        private static void setPosixMode(Path p, String mode) throws IOException {
            if (p.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
            }
        }

        private void writeLogConfig(Path logConfig, Path logFile) throws IOException {
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("version", 1);
            root.put("formatters", Map.of("precise", Map.of("format",
                    "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s")));
            Map<String, Object> file = new LinkedHashMap<>();
            file.put("class", "logging.handlers.TimedRotatingFileHandler");
            file.put("formatter", "precise");
            file.put("filename", logFile.toString());
            file.put("when", "midnight");
            file.put("backupCount", 3);
            file.put("encoding", "utf8");
            root.put("handlers", Map.of("file", file));
            root.put("loggers", Map.of("synapse.storage.SQL", Map.of("level", "INFO")));
            root.put("root", Map.of("level", "INFO", "handlers", List.of("file")));
            root.put("disable_existing_loggers", false);
            Files.writeString(logConfig, dump(root), StandardCharsets.UTF_8);
        }

        private void writeHomeserverYaml(Path hs, Path db, Path media, Path logConfig, Path key, Path pid)
                throws IOException {
            Map<String, Object> cfg = new LinkedHashMap<>();
            cfg.put("server_name", SERVER_NAME);
            cfg.put("pid_file", pid.toString());
            cfg.put("listeners", List.of(Map.of("port", 8008, "tls", false, "type", "http",
                    "x_forwarded", true, "bind_addresses", List.of("127.0.0.1"),
                    "resources", List.of(Map.of("names", List.of("client", "federation"), "compress", false)))));
            cfg.put("database", Map.of("name", "sqlite3", "args", Map.of("database", db.toString())));
            cfg.put("log_config", logConfig.toString());
            cfg.put("media_store_path", media.toString());
            cfg.put("signing_key_path", key.toString());
            cfg.put("report_stats", false);
            cfg.put("trusted_key_servers", List.of(Map.of("server_name", "matrix.org")));
            String header = "# Sample homeserver generated by synapse-backup (not a real server).\n";
            Files.writeString(hs, header + dump(cfg) + "\n# vim:ft=yaml\n", StandardCharsets.UTF_8);
        }

        private static String dump(Object o) {
            DumperOptions d = new DumperOptions();
            d.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
            return new Yaml(d).dump(o);
        }

        private void writeDatabase(Path db) throws IOException, SQLException {
            for (String suffix : new String[] {"", "-wal", "-shm"}) {
                Files.deleteIfExists(Path.of(db + suffix));
            }
            try (Connection c = SqliteSnapshot.connect(db, null)) {
                try (Statement st = c.createStatement()) {
                    st.execute("PRAGMA journal_mode=WAL");
                    // Synapse's own definition of the table (synapse/storage/schema/common).
                    st.execute("CREATE TABLE schema_version(Lock CHAR(1) NOT NULL DEFAULT 'X' UNIQUE,"
                            + " version INTEGER NOT NULL, upgraded BOOL NOT NULL, CHECK (Lock='X'))");
                    st.execute("INSERT INTO schema_version(version, upgraded) VALUES (88, 1)");
                    st.execute("CREATE TABLE users(name TEXT, password_hash TEXT, creation_ts BIGINT,"
                            + " admin SMALLINT DEFAULT 0 NOT NULL, UNIQUE(name))");
                    st.execute("CREATE TABLE rooms(room_id TEXT PRIMARY KEY NOT NULL, is_public BOOL, creator TEXT)");
                    st.execute("CREATE TABLE events(stream_ordering INTEGER PRIMARY KEY, event_id TEXT NOT NULL,"
                            + " type TEXT NOT NULL, room_id TEXT NOT NULL, sender TEXT, content BLOB, UNIQUE (event_id))");
                }
                c.setAutoCommit(false);
                SplittableRandom r = idRandom.split();
                try (PreparedStatement u = c.prepareStatement("INSERT INTO users VALUES (?, ?, ?, ?)");
                        PreparedStatement rm = c.prepareStatement("INSERT INTO rooms VALUES (?, ?, ?)");
                        PreparedStatement ev = c.prepareStatement(
                                "INSERT INTO events(event_id, type, room_id, sender, content) VALUES (?, ?, ?, ?, ?)")) {
                    String[] users = {"@admin:", "@alice:", "@bob:"};
                    for (int i = 0; i < users.length; i++) {
                        u.setString(1, users[i] + SERVER_NAME);
                        u.setString(2, "$2b$12$" + randomId(r, 53));
                        u.setLong(3, BASE_MTIME.getEpochSecond() + i);
                        u.setInt(4, i == 0 ? 1 : 0);
                        u.executeUpdate();
                    }
                    String[] rooms = new String[3];
                    for (int i = 0; i < rooms.length; i++) {
                        rooms[i] = "!" + randomId(r, 18) + ":" + SERVER_NAME;
                        rm.setString(1, rooms[i]);
                        rm.setBoolean(2, i == 0);
                        rm.setString(3, users[0] + SERVER_NAME);
                        rm.executeUpdate();
                    }
                    long target = opts.dbSizeMb() * MB;
                    int eventSize = 4096;
                    long events = Math.max(10, target / eventSize);
                    byte[] content = new byte[eventSize];
                    for (long i = 0; i < events; i++) {
                        ev.setString(1, "$" + randomId(r, 43));
                        ev.setString(2, i % 5 == 0 ? "m.room.member" : "m.room.message");
                        ev.setString(3, rooms[(int) (i % rooms.length)]);
                        ev.setString(4, users[(int) (i % users.length)] + SERVER_NAME);
                        fillRandom(content, contentRandom);
                        ev.setBytes(5, i < 10 ? "{\"body\":\"hello\"}".getBytes(StandardCharsets.UTF_8) : content);
                        ev.executeUpdate();
                        if (i % 5000 == 4999) {
                            c.commit();
                        }
                    }
                }
                c.commit();
            }
        }

        private static void fillRandom(byte[] b, SplittableRandom r) {
            int i = 0;
            for (; i + 8 <= b.length; i += 8) {
                long v = r.nextLong();
                for (int k = 0; k < 8; k++) {
                    b[i + k] = (byte) (v >>> (8 * k));
                }
            }
            for (; i < b.length; i++) {
                b[i] = (byte) r.nextInt(256);
            }
        }

        private void writeMedia(Path media) throws IOException {
            Path localContent = Files.createDirectories(media.resolve("local_content"));
            Path localThumbs = Files.createDirectories(media.resolve("local_thumbnails"));
            int n = opts.localMediaFiles();
            long seedSizes = idRandom.nextLong();

            // Pass 1: the same draws as pass 2, to learn how to scale content sizes to the target.
            SplittableRandom sizes = new SplittableRandom(seedSizes);
            double rawTotal = 0;
            long thumbTotal = 0;
            for (int i = 0; i < n; i++) {
                rawTotal += rawContentSize(sizes);
                if (i % 4 == 0) {
                    thumbTotal += thumbnailSize(sizes);
                }
            }
            long contentBudget = Math.max(n, opts.totalMediaBytes() - thumbTotal);
            double scale = rawTotal > 0 ? contentBudget / rawTotal : 0;

            sizes = new SplittableRandom(seedSizes);
            SplittableRandom ids = idRandom.split();
            long written = 0;
            for (int i = 0; i < n; i++) {
                long size = Math.max(1, Math.round(rawContentSize(sizes) * scale));
                if (i == n - 1) {
                    size = Math.max(1, contentBudget - written); // land on the budget exactly
                }
                String id = randomId(ids, 24);
                Path file = localContent.resolve(id.substring(0, 2)).resolve(id.substring(2, 4)).resolve(id.substring(4));
                writeRandomFile(file, size);
                written += size;
                if (i % 4 == 0) {
                    Path thumb = localThumbs.resolve(id.substring(0, 2)).resolve(id.substring(2, 4))
                            .resolve(id.substring(4)).resolve(THUMBNAIL_NAME);
                    writeRandomFile(thumb, thumbnailSize(sizes));
                }
            }

            String[] servers = {"matrix.org", "remote.example.net"};
            for (int i = 0; i < opts.remoteMediaFiles(); i++) {
                String server = servers[i % servers.length];
                String id = randomId(ids, 24);
                writeRandomFile(media.resolve("remote_content").resolve(server).resolve(id.substring(0, 2))
                        .resolve(id.substring(2, 4)).resolve(id.substring(4)), thumbnailSize(ids));
                writeRandomFile(media.resolve("remote_thumbnail").resolve(server).resolve(id.substring(0, 2))
                        .resolve(id.substring(2, 4)).resolve(id.substring(4)).resolve(THUMBNAIL_NAME), thumbnailSize(ids));
            }
            // URL previews: Synapse's ids there start with the date (url_cache/YYYY-MM-DD/rest).
            String urlId = "2024-01-01_" + randomId(ids, 16);
            writeRandomFile(media.resolve("url_cache").resolve(urlId.substring(0, 10)).resolve(urlId.substring(11)),
                    thumbnailSize(ids));
            writeRandomFile(media.resolve("url_cache_thumbnails").resolve(urlId.substring(0, 10))
                    .resolve(urlId.substring(11)).resolve(THUMBNAIL_NAME), thumbnailSize(ids));
        }

        /** An unscaled content size: 20% small images, 75% photos, 5% videos (log-uniform within each). */
        private static double rawContentSize(SplittableRandom r) {
            double kind = r.nextDouble();
            double u = r.nextDouble();
            if (kind < 0.20) {
                return logUniform(u, 2 * KB, 30 * KB);
            } else if (kind < 0.95) {
                return logUniform(u, 100 * KB, 5 * MB);
            }
            return logUniform(u, 20 * MB, 200 * MB);
        }

        private static long thumbnailSize(SplittableRandom r) {
            return Math.round(logUniform(r.nextDouble(), 2 * KB, 30 * KB));
        }

        private static double logUniform(double u, double min, double max) {
            return Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min)));
        }

        private static String randomId(SplittableRandom r, int length) {
            StringBuilder sb = new StringBuilder(length);
            for (int i = 0; i < length; i++) {
                sb.append(ID_ALPHABET.charAt(r.nextInt(ID_ALPHABET.length())));
            }
            return sb.toString();
        }

        private void writeRandomFile(Path file, long size) throws IOException {
            Files.createDirectories(file.getParent());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                long left = size;
                while (left > 0) {
                    buffer.clear();
                    int chunk = (int) Math.min(left, BUFFER_SIZE);
                    int longs = (chunk + 7) / 8;
                    for (int i = 0; i < longs; i++) {
                        buffer.putLong(contentRandom.nextLong());
                    }
                    buffer.flip().limit(chunk);
                    while (buffer.hasRemaining()) {
                        ch.write(buffer);
                    }
                    left -= chunk;
                }
            }
            Files.setLastModifiedTime(file, FileTime.from(BASE_MTIME.plusSeconds(mtimeCounter++)));
        }
    }
}
