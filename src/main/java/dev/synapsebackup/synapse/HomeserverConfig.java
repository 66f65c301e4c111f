package dev.synapsebackup.synapse;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.config.Secret;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * The parts of a Synapse homeserver configuration that a backup needs, read the way Synapse
 * reads its {@code --config-path} arguments.
 *
 * <h2>Which files are read</h2>
 * Each given path is a file or a directory; a directory contributes every regular file in it
 * whose name ends in {@code .yaml}, sorted by name (subdirectories and other files are ignored,
 * as Synapse does). The files are read in order and each file's top-level keys replace those of
 * earlier files (a shallow merge, like Synapse's {@code dict.update}). A file that is empty or not
 * a mapping is ignored with a warning, again as Synapse does.
 *
 * <p>Debian's package starts Synapse with {@code --config-path homeserver.yaml --config-path
 * conf.d/}. So that pointing this tool at {@code homeserver.yaml} alone is enough, a
 * {@code conf.d/} directory beside the first given file named {@code homeserver.yaml} (or beside
 * the first file, if none has that name) is merged in right after that file, unless one of its
 * files was already given.
 *
 * <h2>Relative paths</h2>
 * Synapse turns the paths in its configuration into absolute ones with {@code os.path.abspath},
 * that is, relative to <em>the working directory of the Synapse process</em>, not to the
 * directory of the configuration file. This class does exactly that against the
 * {@code workingDir} given to {@link #load(List, Path)} ({@link #load(List)} uses the JVM's
 * working directory), normalising {@code .} and {@code ..} lexically as {@code abspath} does. Run
 * the tool from Synapse's working directory (Debian: {@code /var/lib/matrix-synapse}; the
 * systemd unit's {@code WorkingDirectory}) when the configuration uses relative paths.
 *
 * <h2>Defaults</h2>
 * <ul>
 *   <li>{@code signing_key_path}: {@code <config dir>/<server_name>.signing.key}, where the
 *       config dir is, as in Synapse's {@code load_or_generate_config}, the directory of the
 *       <em>last</em> configuration file read ({@code os.path.dirname(config_files[-1])}); this is
 *       also where {@code --generate-config} writes the key.
 *   <li>{@code media_store_path}: {@code media_store}.
 *   <li>database: SQLite {@code homeserver.db}.
 * </ul>
 *
 * <p>YAML is read with SnakeYAML's safe constructor: no custom tags, at most
 * {@value #MAX_ALIASES} aliases for collections (a "billion laughs" file fails at once) and at
 * most {@value #MAX_CODE_POINTS} code points per file. {@link #toString()} and every error
 * message leave out the database password.
 */
public final class HomeserverConfig {
    private static final Logger LOG = LoggerFactory.getLogger(HomeserverConfig.class);

    static final int MAX_ALIASES = 50;
    static final int MAX_CODE_POINTS = 3 * 1024 * 1024;

    private final List<Path> configFiles;
    private final Path workingDir;
    private final Path configDir;
    private final String serverName;
    private final Path signingKeyPath;
    private final Path mediaStorePath;
    private final DatabaseConfig database;
    private final Path logConfig;
    private final List<Path> appServiceConfigFiles;
    private final Path pidFile;
    private final List<S3MediaProvider> s3MediaProviders;

    private HomeserverConfig(List<Path> configFiles, Path workingDir, Map<String, Object> merged,
            Map<String, Path> origin) {
        this.configFiles = List.copyOf(configFiles);
        this.workingDir = workingDir;
        Path lastFile = configFiles.get(configFiles.size() - 1);
        this.configDir = lastFile.getParent();
        Keys keys = new Keys(merged, origin, workingDir);

        String name = keys.string("server_name");
        if (name == null || name.isBlank()) {
            throw new ConfigException("\"server_name\" is not set in " + describe(configFiles));
        }
        this.serverName = name;
        String keyPath = keys.string("signing_key_path");
        this.signingKeyPath = keyPath != null
                ? keys.path(keyPath)
                : configDir.resolve(serverName + ".signing.key").normalize();
        String media = keys.string("media_store_path");
        this.mediaStorePath = keys.path(media != null ? media : "media_store");
        this.database = readDatabase(keys);
        String log = keys.string("log_config");
        this.logConfig = log != null ? keys.path(log) : null;
        this.appServiceConfigFiles = keys.pathList("app_service_config_files");
        String pid = keys.string("pid_file");
        this.pidFile = pid != null ? keys.path(pid) : null;
        Path providersFile = origin.get("media_storage_providers");
        this.s3MediaProviders = S3MediaProvider.parse(keys.raw("media_storage_providers"),
                providersFile == null ? "" : providersFile + ": ");
    }

    /** Reads the configuration, resolving relative paths against the JVM's working directory. */
    public static HomeserverConfig load(List<Path> configPaths) {
        return load(configPaths, Path.of("").toAbsolutePath());
    }

    /**
     * Reads the configuration as Synapse would if it ran in {@code workingDir}.
     *
     * @param configPaths files or directories, as given to Synapse's {@code --config-path}
     * @param workingDir the directory relative paths (in the list and the files) resolve against
     * @throws ConfigException a file is missing or unreadable, is not valid YAML, a key has the
     *     wrong type, {@code server_name} is missing, or the database layout is not supported
     */
    public static HomeserverConfig load(List<Path> configPaths, Path workingDir) {
        if (configPaths == null || configPaths.isEmpty()) {
            throw new ConfigException("no Synapse configuration file given (synapse-config)");
        }
        Path wd = workingDir.toAbsolutePath().normalize();
        List<Path> files = findConfigFiles(configPaths, wd);
        if (files.isEmpty()) {
            throw new ConfigException("no *.yaml file in " + describe(configPaths));
        }
        Map<String, Object> merged = new LinkedHashMap<>();
        Map<String, Path> origin = new HashMap<>();
        for (Path file : files) {
            Object doc = parse(file);
            if (!(doc instanceof Map<?, ?> map)) {
                LOG.warn("{} is empty or is not a key-value map: ignoring it (as Synapse does)", file);
                continue;
            }
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String key = String.valueOf(e.getKey());
                merged.put(key, e.getValue());
                origin.put(key, file);
            }
        }
        return new HomeserverConfig(files, wd, merged, origin);
    }

    private static List<Path> findConfigFiles(List<Path> configPaths, Path wd) {
        Set<Path> files = new LinkedHashSet<>();
        for (Path given : configPaths) {
            Path p = wd.resolve(given).normalize();
            if (Files.isDirectory(p)) {
                files.addAll(yamlFilesIn(p));
            } else if (Files.isRegularFile(p)) {
                files.add(p);
            } else if (Files.exists(p)) {
                throw new ConfigException("Synapse configuration " + p + " is not a regular file or directory");
            } else {
                throw new ConfigException("Synapse configuration file " + p + " does not exist");
            }
        }
        List<Path> list = new ArrayList<>(files);
        if (list.isEmpty()) {
            return list;
        }
        Path trigger = list.stream()
                .filter(f -> f.getFileName().toString().equals("homeserver.yaml"))
                .findFirst().orElse(list.get(0));
        Path confD = trigger.resolveSibling("conf.d");
        if (Files.isDirectory(confD)) {
            List<Path> extra = yamlFilesIn(confD);
            if (extra.stream().noneMatch(files::contains)) {
                list.addAll(list.indexOf(trigger) + 1, extra);
            }
        }
        return list;
    }

    private static List<Path> yamlFilesIn(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".yaml"))
                    .filter(f -> {
                        if (Files.isRegularFile(f)) {
                            return true;
                        }
                        LOG.warn("ignoring {} in configuration directory: not a regular file", f);
                        return false;
                    })
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new ConfigException("cannot list configuration directory " + dir + ": " + e.getMessage(), e);
        }
    }

    private static Object parse(Path file) {
        LoaderOptions options = new LoaderOptions();
        options.setMaxAliasesForCollections(MAX_ALIASES);
        options.setCodePointLimit(MAX_CODE_POINTS);
        options.setAllowRecursiveKeys(false);
        options.setNestingDepthLimit(50);
        Yaml yaml = new Yaml(new SafeConstructor(options));
        try (InputStream in = Files.newInputStream(file)) {
            return yaml.load(in);
        } catch (NoSuchFileException e) {
            throw new ConfigException("Synapse configuration file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new ConfigException("cannot read Synapse configuration file " + file + ": " + e.getMessage(), e);
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String where = mark != null
                    ? " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1) : "";
            throw new ConfigException("invalid YAML in " + file + where + ": " + e.getProblem(), e);
        } catch (YAMLException e) {
            // Alias and size limits end up here; their messages hold no file content.
            throw new ConfigException("cannot parse YAML in " + file + ": " + e.getMessage(), e);
        }
    }

    private static DatabaseConfig readDatabase(Keys keys) {
        Object single = keys.raw("database");
        Object multi = keys.raw("databases");
        String legacyPath = keys.string("database_path");
        if (single != null && multi != null) {
            throw keys.error("database", "\"database\" and \"databases\" cannot both be set");
        }
        Map<String, Object> section;
        String key;
        if (multi != null) {
            Map<String, Object> dbs = keys.map("databases", multi, "databases");
            if (dbs.size() != 1) {
                throw keys.error("databases", "\"databases\" lists " + dbs.size()
                        + " databases; only a single database is supported (multi-database layouts are not)");
            }
            Map.Entry<String, Object> only = dbs.entrySet().iterator().next();
            key = "databases." + only.getKey();
            section = keys.map("databases", only.getValue(), key);
        } else if (single != null) {
            key = "database";
            section = keys.map("database", single, key);
        } else if (legacyPath != null) {
            return sqlite(keys, "database_path", legacyPath);
        } else {
            return new DatabaseConfig.Sqlite(keys.path("homeserver.db"));
        }
        String top = key.startsWith("databases") ? "databases" : "database";
        Object engineValue = section.getOrDefault("name", "sqlite3");
        if (!(engineValue instanceof String engine)) {
            throw keys.error(top, "\"" + key + ".name\" must be a string");
        }
        Object argsValue = section.get("args");
        Map<String, Object> args = argsValue == null ? Map.of() : keys.map(top, argsValue, key + ".args");
        switch (engine) {
            case "sqlite3": {
                if (legacyPath != null) {
                    // Synapse lets the old top-level key override the sqlite3 args.
                    return sqlite(keys, "database_path", legacyPath);
                }
                Object db = args.getOrDefault("database", "homeserver.db");
                if (!(db instanceof String s)) {
                    throw keys.error(top, "\"" + key + ".args.database\" must be a string");
                }
                return sqlite(keys, key + ".args.database", s);
            }
            case "psycopg2":
            case "psycopg":
                return postgres(keys, top, key, args);
            default:
                throw keys.error(top, "\"" + key + ".name\" must be \"sqlite3\" or \"psycopg2\", not \"" + engine + "\"");
        }
    }

    private static DatabaseConfig sqlite(Keys keys, String key, String path) {
        if (path.equals(":memory:") || path.isBlank()) {
            throw new ConfigException("\"" + key + "\" is an in-memory database: there is nothing to back up");
        }
        return new DatabaseConfig.Sqlite(keys.path(path));
    }

    private static DatabaseConfig postgres(Keys keys, String top, String key, Map<String, Object> args) {
        String host = null;
        int port = 5432;
        String user = null;
        Secret password = null;
        String dbname = null;
        Map<String, String> other = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : args.entrySet()) {
            String name = e.getKey();
            Object v = e.getValue();
            if (v instanceof Map || v instanceof List) {
                // Never echo the value: it may be the password.
                throw keys.error(top, "\"" + key + ".args." + name + "\" must be a single value");
            }
            if (v == null || name.startsWith("cp_")) {
                continue; // twisted's connection-pool settings, not libpq's
            }
            String s = String.valueOf(v);
            switch (name) {
                case "host" -> host = s;
                case "port" -> {
                    try {
                        port = v instanceof Number n ? n.intValue() : Integer.parseInt(s.trim());
                    } catch (NumberFormatException ex) {
                        throw keys.error(top, "\"" + key + ".args.port\" must be a port number");
                    }
                    if (port < 1 || port > 65535) {
                        throw keys.error(top, "\"" + key + ".args.port\" must be a port number (1-65535)");
                    }
                }
                case "user" -> user = s;
                case "password" -> password = Secret.of(s);
                case "dbname", "database" -> {
                    if (dbname != null && !dbname.equals(s)) {
                        throw keys.error(top, "\"" + key + ".args\" sets both \"dbname\" and \"database\" to different values");
                    }
                    dbname = s;
                }
                default -> other.put(name, s);
            }
        }
        return new DatabaseConfig.Postgres(host, port, user, password, dbname, other);
    }

    private static String describe(List<Path> paths) {
        return paths.size() == 1 ? paths.get(0).toString() : paths.toString();
    }

    /** Typed access to the merged top-level keys, with errors that name the key and its file. */
    private static final class Keys {
        private final Map<String, Object> merged;
        private final Map<String, Path> origin;
        private final Path workingDir;

        Keys(Map<String, Object> merged, Map<String, Path> origin, Path workingDir) {
            this.merged = merged;
            this.origin = origin;
            this.workingDir = workingDir;
        }

        Object raw(String key) {
            return merged.get(key);
        }

        ConfigException error(String topKey, String message) {
            Path file = origin.get(topKey);
            return new ConfigException(file != null ? file + ": " + message : message);
        }

        /** A string value, or null if absent; numbers and booleans are taken as their text. */
        String string(String key) {
            Object v = merged.get(key);
            if (v == null) {
                return null;
            }
            if (v instanceof String s) {
                return s;
            }
            if (key.equals("server_name") || v instanceof Map || v instanceof List || v instanceof byte[]) {
                throw error(key, "\"" + key + "\" must be a string, not " + typeName(v));
            }
            // YAML turns e.g. `pid_file: 1234` into a number; Python would then fail on
            // os.path.abspath(1234), but the intent is clear enough to accept.
            return String.valueOf(v);
        }

        List<Path> pathList(String key) {
            Object v = merged.get(key);
            if (v == null) {
                return List.of();
            }
            if (!(v instanceof List<?> list)) {
                throw error(key, "\"" + key + "\" must be a list of file names, not " + typeName(v));
            }
            List<Path> out = new ArrayList<>();
            for (Object item : list) {
                if (!(item instanceof String s)) {
                    throw error(key, "\"" + key + "\" must be a list of file names, but has an entry that is "
                            + typeName(item));
                }
                out.add(path(s));
            }
            return Collections.unmodifiableList(out);
        }

        @SuppressWarnings("unchecked")
        Map<String, Object> map(String topKey, Object v, String key) {
            if (!(v instanceof Map<?, ?> m)) {
                throw error(topKey, "\"" + key + "\" must be a mapping, not " + typeName(v));
            }
            for (Object k : m.keySet()) {
                if (!(k instanceof String)) {
                    throw error(topKey, "\"" + key + "\" has a key that is not a string");
                }
            }
            return (Map<String, Object>) m;
        }

        Path path(String value) {
            try {
                return workingDir.resolve(value).normalize();
            } catch (java.nio.file.InvalidPathException e) {
                throw new ConfigException("invalid path \"" + value + "\" in Synapse configuration: " + e.getReason(), e);
            }
        }

        private static String typeName(Object v) {
            if (v == null) {
                return "empty";
            }
            if (v instanceof Map) {
                return "a mapping";
            }
            if (v instanceof List) {
                return "a list";
            }
            if (v instanceof Number) {
                return "a number";
            }
            if (v instanceof Boolean) {
                return "a boolean";
            }
            return "a " + v.getClass().getSimpleName().toLowerCase(Locale.ROOT);
        }
    }

    /** Every configuration file read, in the order they were merged (absolute paths). */
    public List<Path> configFiles() {
        return configFiles;
    }

    /** The working directory relative paths were resolved against. */
    public Path workingDir() {
        return workingDir;
    }

    /** Synapse's config directory: the directory of the last configuration file read. */
    public Path configDir() {
        return configDir;
    }

    /** {@code server_name}. */
    public String serverName() {
        return serverName;
    }

    /** Absolute path of the signing key file ({@code signing_key_path} or its default). */
    public Path signingKeyPath() {
        return signingKeyPath;
    }

    /** Absolute path of the media store ({@code media_store_path}, default {@code media_store}). */
    public Path mediaStorePath() {
        return mediaStorePath;
    }

    /** The database. */
    public DatabaseConfig database() {
        return database;
    }

    /** Absolute path of the logging configuration ({@code log_config}), if set. */
    public Optional<Path> logConfig() {
        return Optional.ofNullable(logConfig);
    }

    /** Absolute paths of the application service registrations ({@code app_service_config_files}). */
    public List<Path> appServiceConfigFiles() {
        return appServiceConfigFiles;
    }

    /** Absolute path of Synapse's pid file ({@code pid_file}), if set. */
    public Optional<Path> pidFile() {
        return Optional.ofNullable(pidFile);
    }

    /**
     * The {@code media_storage_providers} entries of synapse-s3-storage-provider, in configuration
     * order: media held in S3, which a backup copies (FORMAT.md §10).
     */
    public List<S3MediaProvider> s3MediaProviders() {
        return s3MediaProviders;
    }

    /** A summary without any secret. */
    @Override
    public String toString() {
        return "HomeserverConfig[serverName=" + serverName + ", configFiles=" + configFiles
                + ", signingKeyPath=" + signingKeyPath + ", mediaStorePath=" + mediaStorePath
                + ", database=" + database + ", logConfig=" + logConfig
                + ", appServiceConfigFiles=" + appServiceConfigFiles + ", pidFile=" + pidFile
                + ", s3MediaProviders=" + s3MediaProviders + "]";
    }
}
