package dev.synapsebackup.config;

import dev.synapsebackup.ConfigException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Merges the configuration sources of SPEC §1 — flags, then environment, then the config file,
 * then defaults — into a validated {@link ToolConfig}. Every error names the offending key (and
 * the file it came from) and exits with code 2.
 */
public final class ConfigLoader {
    private static final Set<String> TOP_KEYS = Set.of(
            "synapse-config", "repository", "s3", "passphrase-file", "service", "full-every", "postgres",
            "media-copy-parallelism", "media-encryption",
            "metrics-file", "hooks", "ping-url", "encryption", "state-directory");
    private static final Set<String> S3_KEYS = Set.of(
            "access-key", "secret-key", "region", "endpoint", "bucket", "path", "s3-uri-style", "object-lock");
    private static final Set<String> OBJECT_LOCK_KEYS = Set.of("mode", "retain");
    private static final Set<String> SERVICE_KEYS = Set.of("stop-command", "start-command");
    private static final Set<String> HOOK_KEYS = Set.of("before", "after", "on-error");
    private static final Set<String> ENCRYPTION_KEYS = Set.of("recipients");
    private static final Set<String> POSTGRES_KEYS = Set.of("admin-os-user", "admin-user", "admin-password-file");
    /** A POSIX-portable user name, as useradd accepts it (no option-like leading dash). */
    private static final Pattern OS_USER = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*\\$?");
    private static final Duration DEFAULT_FULL_EVERY = Duration.ofDays(7);

    private final Map<String, String> env;
    private final Path defaultConfigFile;

    /**
     * @param env               the process environment (injectable for tests)
     * @param defaultConfigFile the file read when {@code --config} is not given, if it exists
     */
    public ConfigLoader(Map<String, String> env, Path defaultConfigFile) {
        this.env = Map.copyOf(env);
        this.defaultConfigFile = defaultConfigFile;
    }

    /** A loader over the real environment and {@code /etc/synapse-backup/config.yaml}. */
    public static ConfigLoader system() {
        return new ConfigLoader(System.getenv(), ToolConfig.DEFAULT_CONFIG_FILE);
    }

    /** Loads and validates the configuration. */
    public ToolConfig load(ConfigOverrides flags) {
        Path file = flags.configFile();
        Map<String, Object> yaml = Map.of();
        Optional<Path> fileRead = Optional.empty();
        if (file != null) {
            yaml = readYaml(file);
            fileRead = Optional.of(file);
        } else if (defaultConfigFile != null && Files.isRegularFile(defaultConfigFile)) {
            yaml = readYaml(defaultConfigFile);
            fileRead = Optional.of(defaultConfigFile);
        }
        String where = fileRead.map(p -> " in " + p).orElse("");
        for (String key : yaml.keySet()) {
            if (!TOP_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"" + key + "\"" + where + " (known: " + String.join(", ", sorted(TOP_KEYS)) + ")");
            }
        }
        Map<String, Object> s3Block = map(yaml, "s3", where);
        for (String key : s3Block.keySet()) {
            if (!S3_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"s3." + key + "\"" + where + " (known: " + String.join(", ", sorted(S3_KEYS)) + ")");
            }
        }
        Map<String, Object> service = map(yaml, "service", where);
        for (String key : service.keySet()) {
            if (!SERVICE_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"service." + key + "\"" + where);
            }
        }

        Map<String, Object> hooks = map(yaml, "hooks", where);
        for (String key : hooks.keySet()) {
            if (!HOOK_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"hooks." + key + "\"" + where + " (known: " + String.join(", ", sorted(HOOK_KEYS)) + ")");
            }
        }

        // Synapse config: --synapse-config > SYNAPSE_CONFIG_PATH > synapse-config > default.
        List<Path> synapseConfigs;
        if (!flags.synapseConfigs().isEmpty()) {
            synapseConfigs = flags.synapseConfigs();
        } else if (nonEmpty(env.get("SYNAPSE_CONFIG_PATH"))) {
            synapseConfigs = List.of(Path.of(env.get("SYNAPSE_CONFIG_PATH")));
        } else if (yaml.get("synapse-config") != null) {
            synapseConfigs = pathList(yaml.get("synapse-config"), "synapse-config", where);
        } else {
            synapseConfigs = List.of(ToolConfig.DEFAULT_SYNAPSE_CONFIG);
        }

        // Repository: a directory, or S3.
        Path repo = flags.repo();
        if (repo == null && nonEmpty(env.get("SYNAPSE_BACKUP_REPOSITORY"))) {
            repo = Path.of(env.get("SYNAPSE_BACKUP_REPOSITORY"));
        }
        if (repo == null && yaml.get("repository") != null) {
            repo = Path.of(string(yaml, "repository", where));
        }
        boolean s3Wanted = yaml.containsKey("s3") || flags.bucket() != null || flags.endpoint() != null
                || flags.region() != null || flags.path() != null || flags.s3UriStyle() != null
                || nonEmpty(env.get("SYNAPSE_BACKUP_BUCKET"));
        Optional<S3Parameters> s3 = Optional.empty();
        if (repo != null && s3Block.containsKey("object-lock")) {
            throw new ConfigException("\"s3.object-lock\"" + where + " needs an S3 repository: a local directory"
                    + " (\"repository\", --repo) cannot retain objects");
        }
        if (repo != null && s3Wanted) {
            throw new ConfigException("\"repository\" (--repo) and an \"s3\" block (or S3 flags) cannot be used together: choose one");
        }
        if (repo == null) {
            if (!s3Wanted) {
                throw new ConfigException("no repository configured: set \"repository\" (--repo, SYNAPSE_BACKUP_REPOSITORY)"
                        + " or an \"s3\" block with \"bucket\" (--bucket, SYNAPSE_BACKUP_BUCKET)");
            }
            s3 = Optional.of(s3Parameters(flags, s3Block, where));
        }

        // Passphrase: --passphrase-file > SYNAPSE_BACKUP_PASSPHRASE > SYNAPSE_BACKUP_PASSPHRASE_FILE > passphrase-file.
        PassphraseSource passphrase = null;
        if (flags.passphraseFile() != null) {
            passphrase = PassphraseSource.file(flags.passphraseFile(), "--passphrase-file");
        } else if (env.get("SYNAPSE_BACKUP_PASSPHRASE") != null) {
            passphrase = PassphraseSource.value(Secret.of(env.get("SYNAPSE_BACKUP_PASSPHRASE")), "SYNAPSE_BACKUP_PASSPHRASE");
        } else if (nonEmpty(env.get("SYNAPSE_BACKUP_PASSPHRASE_FILE"))) {
            passphrase = PassphraseSource.file(Path.of(env.get("SYNAPSE_BACKUP_PASSPHRASE_FILE")), "SYNAPSE_BACKUP_PASSPHRASE_FILE");
        } else if (yaml.get("passphrase-file") != null) {
            passphrase = PassphraseSource.file(Path.of(string(yaml, "passphrase-file", where)), "\"passphrase-file\"" + where);
        }

        // Public-key encryption: one repository, one scheme (a passphrase beside it would be ignored or misused).
        Map<String, Object> encryption = map(yaml, "encryption", where);
        for (String key : encryption.keySet()) {
            if (!ENCRYPTION_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"encryption." + key + "\"" + where + " (known: "
                        + String.join(", ", sorted(ENCRYPTION_KEYS)) + ")");
            }
        }
        List<Path> recipients = List.of();
        if (yaml.containsKey("encryption")) {
            // an empty list must not fall back to the passphrase scheme the admin meant to leave
            recipients = encryption.get("recipients") == null ? List.of()
                    : pathList(encryption.get("recipients"), "encryption.recipients", where);
            if (recipients.isEmpty() || recipients.stream().anyMatch(p -> p.toString().isEmpty())) {
                throw new ConfigException("\"encryption.recipients\"" + where + " must list at least one public key file");
            }
            if (passphrase != null) {
                throw new ConfigException("\"encryption.recipients\"" + where + " and a passphrase (" + passphrase
                        + ") cannot be used together: a repository uses one scheme; remove the passphrase to encrypt"
                        + " to the public keys, or the recipients to keep the passphrase");
            }
        }
        Path stateDirectory = yaml.get("state-directory") == null ? ToolConfig.DEFAULT_STATE_DIRECTORY
                : Path.of(string(yaml, "state-directory", where));

        List<String> stop = command(service, "stop-command", where);
        List<String> start = command(service, "start-command", where);
        Duration fullEvery = yaml.get("full-every") == null
                ? DEFAULT_FULL_EVERY
                : parseDuration(String.valueOf(yaml.get("full-every")), "full-every" + where);

        Notifications notifications = new Notifications(
                yaml.get("metrics-file") == null ? Optional.empty() : Optional.of(Path.of(string(yaml, "metrics-file", where))),
                hookCommands(hooks, "before", where), hookCommands(hooks, "after", where), hookCommands(hooks, "on-error", where),
                yaml.get("ping-url") == null ? Optional.empty() : Optional.of(pingUrl(string(yaml, "ping-url", where), where)));

        int mediaCopyParallelism = ToolConfig.DEFAULT_MEDIA_COPY_PARALLELISM;
        if (yaml.get("media-copy-parallelism") != null) {
            Object v = yaml.get("media-copy-parallelism");
            if (!(v instanceof Integer n) || n < 1 || n > 256) {
                throw new ConfigException("\"media-copy-parallelism\"" + where + " must be a number from 1 to 256");
            }
            mediaCopyParallelism = n;
        }
        boolean mediaEncryption = false;
        if (yaml.get("media-encryption") != null) {
            if (!(yaml.get("media-encryption") instanceof Boolean b)) {
                throw new ConfigException("\"media-encryption\"" + where + " must be true or false");
            }
            mediaEncryption = b;
        }

        return new ToolConfig(synapseConfigs, Optional.ofNullable(repo), s3, Optional.ofNullable(passphrase),
                stop, start, fullEvery, fileRead, postgresAdmin(map(yaml, "postgres", where), where),
                notifications, recipients, stateDirectory, mediaCopyParallelism, mediaEncryption);
    }

    /** The optional {@code postgres:} block: an admin connection for restores (never used unless set). */
    private static Optional<PostgresAdmin> postgresAdmin(Map<String, Object> block, String where) {
        for (String key : block.keySet()) {
            if (!POSTGRES_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"postgres." + key + "\"" + where + " (known: "
                        + String.join(", ", sorted(POSTGRES_KEYS)) + ")");
            }
        }
        if (block.isEmpty()) {
            return Optional.empty();
        }
        String osUser = optString(block, "admin-os-user", "postgres.", where);
        String user = optString(block, "admin-user", "postgres.", where);
        String pwFile = optString(block, "admin-password-file", "postgres.", where);
        if (osUser != null && !OS_USER.matcher(osUser).matches()) {
            throw new ConfigException("\"postgres.admin-os-user\"" + where + " must be an OS user name such as postgres,"
                    + " not \"" + osUser + "\"");
        }
        if (user != null && (user.isBlank() || user.indexOf('\0') >= 0)) {
            throw new ConfigException("\"postgres.admin-user\"" + where + " must be a PostgreSQL role name");
        }
        if (osUser == null && user == null) {
            throw new ConfigException("\"postgres\"" + where + " needs \"admin-os-user\" (e.g. postgres: peer"
                    + " authentication over the local socket) or \"admin-user\" with \"admin-password-file\"");
        }
        if (osUser == null && pwFile == null) {
            throw new ConfigException("\"postgres.admin-user\"" + where + " needs \"postgres.admin-password-file\""
                    + " (or use \"postgres.admin-os-user\" for peer authentication)");
        }
        if (osUser != null && pwFile != null) {
            throw new ConfigException("\"postgres.admin-password-file\"" + where + " cannot be used with"
                    + " \"postgres.admin-os-user\" (that connects over the local socket with peer authentication)");
        }
        if (pwFile != null && pwFile.isBlank()) {
            throw new ConfigException("\"postgres.admin-password-file\"" + where + " must not be empty");
        }
        return Optional.of(new PostgresAdmin(osUser, user, pwFile == null ? null : Path.of(pwFile)));
    }

    private S3Parameters s3Parameters(ConfigOverrides flags, Map<String, Object> block, String where) {
        S3Parameters.Builder b = S3Parameters.builder();
        // The key pair is taken as a unit so that one source never supplies half of it.
        String envAccess = env.get("AWS_ACCESS_KEY_ID");
        String envSecret = env.get("AWS_SECRET_ACCESS_KEY");
        if (nonEmpty(envAccess) || nonEmpty(envSecret)) {
            b.accessKey(envAccess);
            b.secretKey(envSecret == null ? null : Secret.of(envSecret));
            if (nonEmpty(env.get("AWS_SESSION_TOKEN"))) {
                b.sessionToken(Secret.of(env.get("AWS_SESSION_TOKEN")));
            }
        } else {
            b.accessKey(optString(block, "access-key", "s3.", where));
            String secret = optString(block, "secret-key", "s3.", where);
            b.secretKey(secret == null ? null : Secret.of(secret));
        }
        b.region(first(flags.region(), env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), optString(block, "region", "s3.", where)));
        b.endpoint(first(flags.endpoint(), env.get("AWS_ENDPOINT_URL"), optString(block, "endpoint", "s3.", where)));
        b.bucket(first(flags.bucket(), env.get("SYNAPSE_BACKUP_BUCKET"), optString(block, "bucket", "s3.", where)));
        b.path(first(flags.path(), env.get("SYNAPSE_BACKUP_PATH"), optString(block, "path", "s3.", where)));
        b.uriStyle(first(flags.s3UriStyle(), env.get("SYNAPSE_BACKUP_S3_URI_STYLE"), optString(block, "s3-uri-style", "s3.", where)));
        b.profile(env.get("AWS_PROFILE"));
        b.objectLock(objectLock(block, where));
        return b.build();
    }

    /** The optional {@code s3.object-lock:} block: {@code mode} and {@code retain}, both required. */
    private static ObjectLock objectLock(Map<String, Object> s3Block, String where) {
        if (!s3Block.containsKey("object-lock")) {
            return null;
        }
        Object v = s3Block.get("object-lock");
        if (!(v instanceof Map)) {
            throw new ConfigException("\"s3.object-lock\"" + where + " must be a mapping such as"
                    + " {mode: governance, retain: 30d}");
        }
        Map<String, Object> block = map(s3Block, "object-lock", where);
        for (String key : block.keySet()) {
            if (!OBJECT_LOCK_KEYS.contains(key)) {
                throw new ConfigException("unknown key \"s3.object-lock." + key + "\"" + where + " (known: "
                        + String.join(", ", sorted(OBJECT_LOCK_KEYS)) + ")");
            }
        }
        String mode = optString(block, "mode", "s3.object-lock.", where);
        String retain = optString(block, "retain", "s3.object-lock.", where);
        if (mode == null || mode.isBlank()) {
            throw new ConfigException("\"s3.object-lock.mode\"" + where + " is required: governance or compliance");
        }
        if (retain == null || retain.isBlank()) {
            throw new ConfigException("\"s3.object-lock.retain\"" + where + " is required: a duration such as 30d");
        }
        Duration d = parseDuration(retain, "s3.object-lock.retain" + where);
        // At least a day: the retain-until date is fixed when an upload starts, and a shorter one
        // could pass before a long upload's last request. At most 100 years: in compliance mode a
        // typo cannot be undone.
        if (d.compareTo(Duration.ofDays(1)) < 0 || d.compareTo(Duration.ofDays(36_525)) > 0) {
            throw new ConfigException("\"s3.object-lock.retain\"" + where + " must be between 1d and 36525d (100 years),"
                    + " not " + retain);
        }
        return new ObjectLock(ObjectLock.Mode.parse(mode, "s3.object-lock.mode" + where), d);
    }

    private static Map<String, Object> readYaml(Path file) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(20);
        options.setCodePointLimit(1 << 20);
        Yaml yaml = new Yaml(new SafeConstructor(options));
        Object doc;
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            doc = yaml.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file " + file + " does not exist");
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
        } catch (YAMLException e) {
            throw new ConfigException("config file " + file + " is not valid YAML: " + firstLine(e.getMessage()));
        }
        if (doc == null) {
            return Map.of();
        }
        if (!(doc instanceof Map<?, ?> m)) {
            throw new ConfigException("config file " + file + " must be a YAML mapping of keys to values");
        }
        Map<String, Object> result = new LinkedHashMap<>();
        m.forEach((k, v) -> result.put(String.valueOf(k), v));
        return result;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        return s.replace('\n', ' ').replaceAll("\\s+", " ").trim();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Map<String, Object> yaml, String key, String where) {
        Object v = yaml.get(key);
        if (v == null) {
            return Map.of();
        }
        if (!(v instanceof Map)) {
            throw new ConfigException("\"" + key + "\"" + where + " must be a mapping");
        }
        Map<String, Object> result = new LinkedHashMap<>();
        ((Map<Object, Object>) v).forEach((k, val) -> result.put(String.valueOf(k), val));
        return result;
    }

    private static String string(Map<String, Object> yaml, String key, String where) {
        String s = optString(yaml, key, "", where);
        if (s == null || s.isBlank()) {
            throw new ConfigException("\"" + key + "\"" + where + " must not be empty");
        }
        return s;
    }

    private static String optString(Map<String, Object> yaml, String key, String keyPrefix, String where) {
        Object v = yaml.get(key);
        if (v == null) {
            return null;
        }
        if (v instanceof Map || v instanceof List) {
            throw new ConfigException("\"" + keyPrefix + key + "\"" + where + " must be a string");
        }
        return String.valueOf(v);
    }

    private static List<Path> pathList(Object v, String key, String where) {
        List<Path> result = new ArrayList<>();
        if (v instanceof List<?> list) {
            for (Object o : list) {
                if (o == null || o instanceof Map || o instanceof List) {
                    throw new ConfigException("\"" + key + "\"" + where + " must be a path or a list of paths");
                }
                result.add(Path.of(String.valueOf(o)));
            }
        } else if (v instanceof Map) {
            throw new ConfigException("\"" + key + "\"" + where + " must be a path or a list of paths");
        } else {
            result.add(Path.of(String.valueOf(v)));
        }
        return result;
    }

    private static List<String> command(Map<String, Object> service, String key, String where) {
        Object v = service.get(key);
        if (v == null) {
            return List.of();
        }
        if (v instanceof List<?> list && !list.isEmpty()) {
            List<String> result = new ArrayList<>();
            for (Object o : list) {
                if (o == null || o instanceof Map || o instanceof List) {
                    throw new ConfigException("\"service." + key + "\"" + where + " must be a list of strings");
                }
                result.add(String.valueOf(o));
            }
            return result;
        }
        throw new ConfigException("\"service." + key + "\"" + where
                + " must be a non-empty list of strings, e.g. [systemctl, stop, matrix-synapse.target]");
    }

    /**
     * A hook: one argv ({@code [notify-send, done]}) or a list of them ({@code [[a], [b, c]]}),
     * run in that order.
     */
    private static List<List<String>> hookCommands(Map<String, Object> hooks, String key, String where) {
        Object v = hooks.get(key);
        if (v == null) {
            return List.of();
        }
        String error = "\"hooks." + key + "\"" + where + " must be a command as a list of strings, e.g. [/usr/local/bin/notify, backup],"
                + " or a list of such commands";
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw new ConfigException(error);
        }
        List<List<String>> result = new ArrayList<>();
        if (list.stream().allMatch(o -> o instanceof List)) {
            for (Object o : list) {
                result.add(argv((List<?>) o, error));
            }
        } else {
            result.add(argv(list, error));
        }
        return result;
    }

    private static List<String> argv(List<?> list, String error) {
        if (list.isEmpty()) {
            throw new ConfigException(error);
        }
        List<String> argv = new ArrayList<>();
        for (Object o : list) {
            if (o == null || o instanceof Map || o instanceof List || String.valueOf(o).isEmpty()) {
                throw new ConfigException(error);
            }
            argv.add(String.valueOf(o));
        }
        return argv;
    }

    private static java.net.URI pingUrl(String value, String where) {
        try {
            java.net.URI uri = new java.net.URI(value.trim());
            if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
                return uri;
            }
        } catch (java.net.URISyntaxException e) {
            // reported below
        }
        throw new ConfigException("\"ping-url\"" + where + " must be an http:// or https:// URL with a host");
    }

    /** A {@code secret-key:} key outside a comment. */
    private static final Pattern SECRET_KEY = Pattern.compile("(?m)^[^#\\n]*\\bsecret-key\\s*:");

    /**
     * Warnings about secrets in files that users other than the file's owner can read: the config
     * file when it holds {@code secret-key}, and the passphrase file. One line per file.
     */
    public static List<String> permissionWarnings(ToolConfig config) {
        List<String> warnings = new ArrayList<>();
        config.configFile().ifPresent(f -> {
            try {
                if (SECRET_KEY.matcher(Files.readString(f, StandardCharsets.UTF_8)).find()) {
                    readableByOthers(f, "holds the S3 secret-key").ifPresent(warnings::add);
                }
            } catch (IOException e) {
                // it was read a moment ago; a file that went away is reported where it is needed
            }
        });
        config.passphrase().flatMap(PassphraseSource::file)
                .flatMap(f -> readableByOthers(f, "holds the backup passphrase")).ifPresent(warnings::add);
        return warnings;
    }

    /**
     * A warning when {@code file}, which {@code what} ("holds the backup passphrase"), can be read
     * by users other than its owner; for a directory, when they have any access to it. Empty
     * when it is private, or its mode cannot be read (another file system).
     */
    public static Optional<String> readableByOthers(Path file, String what) {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
        boolean directory = Files.isDirectory(file);
        boolean group = directory
                ? perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.GROUP_WRITE)
                        || perms.contains(PosixFilePermission.GROUP_EXECUTE)
                : perms.contains(PosixFilePermission.GROUP_READ);
        boolean others = directory
                ? perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_WRITE)
                        || perms.contains(PosixFilePermission.OTHERS_EXECUTE)
                : perms.contains(PosixFilePermission.OTHERS_READ);
        if (!group && !others) {
            return Optional.empty();
        }
        String how = directory ? "accessible" : "readable";
        return Optional.of(file + " " + what + " and is " + how + " by " + (group && others ? "its group and others"
                : group ? "its group" : "others") + " (mode " + PosixFilePermissions.toString(perms)
                + "): make it " + how + " by its owner only (chmod " + (directory ? "700 " : "600 ") + file + ")");
    }

    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*([smhdw])");

    /** Parses {@code 7d}, {@code 12h}, {@code 1w2d}, {@code 30m}; the key is named on error. */
    public static Duration parseDuration(String text, String key) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        Matcher m = DURATION.matcher(t);
        Duration d = Duration.ZERO;
        int pos = 0;
        while (m.find()) {
            if (m.start() != pos) {
                break;
            }
            try {
                long n = Long.parseLong(m.group(1));
                d = d.plus(switch (m.group(2)) {
                    case "s" -> Duration.ofSeconds(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    case "d" -> Duration.ofDays(n);
                    default -> Duration.ofDays(Math.multiplyExact(7, n));
                });
            } catch (NumberFormatException | ArithmeticException e) {
                throw new ConfigException("\"" + key + "\" is too long a duration: \"" + text + "\"");
            }
            pos = m.end();
        }
        if (t.isEmpty() || pos != t.length()) {
            throw new ConfigException("\"" + key + "\" must be a duration such as 7d, 12h or 1w, not \"" + text + "\"");
        }
        return d;
    }

    private static boolean nonEmpty(String s) {
        return s != null && !s.isBlank();
    }

    private static String first(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }

    private static List<String> sorted(Set<String> s) {
        return s.stream().sorted().toList();
    }
}
