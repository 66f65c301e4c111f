package dev.synapsebackup.cli;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.backup.RepositoryFactory;
import dev.synapsebackup.config.ObjectLock;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.crypto.MessageKeys;
import dev.synapsebackup.crypto.Recipients;
import dev.synapsebackup.manifest.PassphraseCheck;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.PostgresDump;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;

@Command(name = "check",
        header = "Check that everything a backup needs is in place.",
        description = {
            "Checks, in this order: the configuration and the repository (the bucket or directory can be"
                + " listed and written); Synapse's homeserver.yaml and the signing key, database and media"
                + " store it names; that a passphrase is configured and opens the newest backup in the"
                + " repository; the PostgreSQL connection, when Synapse uses PostgreSQL; and that the"
                + " configured service stop and start commands are executable files. For S3, it also tells whether"
                + " the bucket has Object Lock enabled; with s3.object-lock set, a bucket without it is an invalid"
                + " configuration (exit 2).",
            "",
            "Prints \"active\" when every check passes. Otherwise prints one line per problem on stderr."
                + " A repository problem is reported with one of the Synapse charm's status lines:",
            "  Backup: S3 configuration is invalid (<reason>)",
            "  Backup: S3 bucket does not exist or cannot be accessed (<reason>)",
            "",
            "The exit code is that of the first problem printed: 2 invalid configuration, 3 repository"
                + " not accessible, 2 homeserver.yaml or a path in it missing, 2 no passphrase, 5 the passphrase"
                + " does not open the newest backup, 1 PostgreSQL cannot be reached, 2 a service command is"
                + " not executable."},
        footer = {
            "  synapse-backup check",
            "  synapse-backup check --config /etc/synapse-backup/config.yaml --json"})
final class CheckCommand extends BaseCommand {
    static final String INVALID = "Backup: S3 configuration is invalid";
    static final String INACCESSIBLE = "Backup: S3 bucket does not exist or cannot be accessed";

    /** One check's outcome, as {@code --json} lists it. */
    private record Result(String check, boolean ok, String detail, int exitCode) {
    }

    private final List<Result> results = new ArrayList<>();

    private void ok(String check, String detail) {
        results.add(new Result(check, true, detail, 0));
    }

    private void problem(String check, String line, int exitCode) {
        results.add(new Result(check, false, line, exitCode));
    }

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config;
        try {
            config = loadConfig();
        } catch (ConfigException e) {
            // Nothing else can be checked without a configuration.
            problem("repository", INVALID + " (" + e.getMessage() + ")", SynapseBackupException.USAGE);
            return report(out, null);
        }
        Repository repo = null;
        try {
            boolean accessible = false;
            try {
                repo = RepositoryFactory.open(config);
                repo.checkAccess();
                accessible = true;
                ok("repository", repo.location());
                if (repo instanceof S3Repository s3) {
                    checkObjectLock(out, config, s3);
                }
            } catch (ConfigException e) {
                problem("repository", INVALID + " (" + e.getMessage() + ")", SynapseBackupException.USAGE);
            } catch (SynapseBackupException e) {
                if (e.exitCode() == SynapseBackupException.INTERRUPTED) {
                    throw e; // a signal, not an answer about the bucket
                }
                problem("repository", INACCESSIBLE + " (" + e.getMessage() + ")", SynapseBackupException.ACCESS);
            }
            HomeserverConfig hs = checkHomeserver(config);
            if (config.publicKeyEncryption()) {
                checkRecipients(config, accessible ? repo : null);
            } else {
                checkPassphrase(config, accessible ? repo : null);
            }
            if (hs != null && hs.database() instanceof DatabaseConfig.Postgres pg) {
                checkPostgres(pg);
            }
            checkServiceCommand("service.stop-command", config.stopCommand());
            checkServiceCommand("service.start-command", config.startCommand());
            return report(out, repo);
        } finally {
            if (repo != null) {
                repo.close();
            }
        }
    }

    /**
     * Whether the bucket has Object Lock enabled. When {@code s3.object-lock} is set, the access
     * check has already refused a bucket without it (an invalid configuration); without it, the
     * answer is only information and a store that does not give it is no problem.
     */
    private void checkObjectLock(Output out, ToolConfig config, S3Repository s3) {
        Optional<ObjectLock> configured = config.s3().flatMap(p -> p.objectLock());
        Map.Entry<Boolean, String> status;
        try {
            status = s3.objectLockStatus();
        } catch (SynapseBackupException e) {
            if (e.exitCode() == SynapseBackupException.INTERRUPTED || configured.isPresent()) {
                throw e;
            }
            ok("object-lock", "cannot tell whether bucket \"" + config.s3().get().bucket() + "\" has Object Lock enabled ("
                    + e.getMessage() + "); s3.object-lock is not set");
            return;
        }
        String detail = status.getValue() + (configured.isPresent()
                ? "; new backups are retained in " + configured.get().mode().word() + " mode for "
                        + ObjectLock.format(configured.get().retain()) + " (s3.object-lock)"
                : "; s3.object-lock is not set, so new backups are not retained");
        ok("object-lock", detail);
        if (configured.isPresent() || status.getKey()) {
            out.info(detail);
        }
    }

    private HomeserverConfig checkHomeserver(ToolConfig config) {
        HomeserverConfig hs;
        try {
            hs = HomeserverConfig.load(config.synapseConfigs());
        } catch (SynapseBackupException e) {
            problem("synapse-config", "Synapse configuration: " + e.getMessage(), SynapseBackupException.USAGE);
            return null;
        }
        ok("synapse-config", String.join(", ", hs.configFiles().stream().map(Path::toString).toList()));
        Path key = hs.signingKeyPath();
        if (Files.isRegularFile(key) && Files.isReadable(key)) {
            ok("signing-key", key.toString());
        } else {
            problem("signing-key", "signing key " + key + " (signing_key_path) " + (Files.exists(key)
                    ? "is not a readable file" : "does not exist"), SynapseBackupException.USAGE);
        }
        if (hs.database() instanceof DatabaseConfig.Sqlite sqlite) {
            Path db = sqlite.path().toAbsolutePath().normalize();
            if (Files.isRegularFile(db) && Files.isReadable(db)) {
                ok("database", "SQLite " + db);
            } else {
                problem("database", "SQLite database " + db + " (database.args.database) " + (Files.exists(db)
                        ? "is not a readable file" : "does not exist"), SynapseBackupException.USAGE);
            }
        }
        Path media = hs.mediaStorePath();
        if (Files.isDirectory(media)) {
            ok("media-store", media.toString());
        } else {
            problem("media-store", "media store " + media + " (media_store_path) does not exist or is not a directory",
                    SynapseBackupException.USAGE);
        }
        return hs;
    }

    /**
     * With public keys there is no secret to check: the key files are read and validated, their
     * fingerprints reported, and the newest backup must be encrypted to public keys too (one
     * repository, one scheme); the state directory must be usable.
     */
    private void checkRecipients(ToolConfig config, Repository repo) {
        Recipients recipients;
        try {
            recipients = Recipients.load(config.recipients(), "encryption.recipients");
        } catch (ConfigException e) {
            problem("encryption", e.getMessage(), SynapseBackupException.USAGE);
            return;
        }
        String to = "encrypted to " + recipients.list().size() + " public key(s): "
                + String.join(", ", recipients.list().stream().map(Recipients.Recipient::toString).toList());
        ok("encryption", to);
        output().info("Backup: " + to);
        Path state = config.stateDirectory();
        Path existing = state;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing != null && Files.isDirectory(existing) && Files.isWritable(existing)) {
            ok("state-directory", state + (existing.equals(state) ? "" : " (created by the first backup)"));
        } else {
            problem("state-directory", "state directory " + state + " (state-directory) cannot be written: incremental"
                    + " backups need it", SynapseBackupException.USAGE);
        }
        if (repo == null) {
            return;
        }
        Optional<BackupEntry> newest = repo.listWithoutMetadata().stream()
                .filter(e -> e.hasManifest() && BackupId.timeOf(e.id()).isPresent())
                .reduce((a, b) -> b);
        if (newest.isEmpty()) {
            return;
        }
        String id = newest.get().id();
        try (InputStream in = repo.open(BackupId.manifestKey(id))) {
            MessageKeys keys = MessageKeys.of(in);
            if (keys.keyIds().isEmpty()) {
                problem("encryption", "backup " + id + ", the newest in the repository, is encrypted with a passphrase,"
                        + " not to public keys: the next create refuses it unless --new-passphrase",
                        SynapseBackupException.INTEGRITY);
            } else if (!keys.keyIds().equals(recipients.keyIds())) {
                ok("encryption", "backup " + id + ", the newest, is encrypted to other keys " + keys.keyIds()
                        + ": the next backup will be a full one");
            }
        } catch (IOException | UncheckedIOException e) {
            problem("encryption", "the manifest of " + id + " cannot be read (" + e.getMessage() + ")",
                    SynapseBackupException.INTEGRITY);
        }
    }

    /** The passphrase is configured (check never prompts) and opens the newest backup. */
    private void checkPassphrase(ToolConfig config, Repository repo) {
        if (config.passphrase().isEmpty()) {
            problem("passphrase", "no backup passphrase is configured: set \"passphrase-file\" in the config file,"
                    + " --passphrase-file, SYNAPSE_BACKUP_PASSPHRASE_FILE or SYNAPSE_BACKUP_PASSPHRASE",
                    SynapseBackupException.USAGE);
            return;
        }
        Secret passphrase;
        try {
            passphrase = config.passphrase().get().read();
        } catch (ConfigException e) {
            problem("passphrase", e.getMessage(), SynapseBackupException.USAGE);
            return;
        }
        if (repo == null) {
            ok("passphrase", config.passphrase().get() + " (not tried: the repository cannot be read)");
            return;
        }
        Optional<BackupEntry> newest = repo.listWithoutMetadata().stream()
                .filter(e -> e.hasManifest() && BackupId.timeOf(e.id()).isPresent())
                .reduce((a, b) -> b);
        if (newest.isEmpty()) {
            ok("passphrase", config.passphrase().get() + " (no backup yet to try it on)");
            return;
        }
        String id = newest.get().id();
        Optional<PassphraseCheck.Unopened> u = PassphraseCheck.probe(repo, id, passphrase);
        if (u.isEmpty()) {
            ok("passphrase", config.passphrase().get() + " opens " + id + ", the newest backup");
        } else if (u.get().problem() == PassphraseCheck.Problem.OTHER_PASSPHRASE) {
            problem("passphrase", "passphrase does not open backup " + id + ", the newest in the repository",
                    SynapseBackupException.INTEGRITY);
        } else {
            problem("passphrase", u.get().message(), SynapseBackupException.INTEGRITY);
        }
    }

    /** A real connection through psql, as create makes it before pg_dump. */
    private void checkPostgres(DatabaseConfig.Postgres pg) {
        try {
            PostgresDump.ServerInfo info = new PostgresDump().probe(pg);
            ok("postgresql", "database \"" + info.dbname() + "\", PostgreSQL " + info.serverVersion());
        } catch (SynapseBackupException e) {
            if (e.exitCode() == SynapseBackupException.INTERRUPTED) {
                throw e;
            }
            problem("postgresql", e.getMessage(), SynapseBackupException.FAILED);
        }
    }

    private void checkServiceCommand(String key, List<String> command) {
        if (command.isEmpty()) {
            ok(key, "not configured");
            return;
        }
        String program = command.get(0);
        Optional<Path> found = executable(program);
        if (found.isPresent()) {
            ok(key, found.get().toString());
        } else {
            problem(key, key + ": " + program + (program.contains("/") ? " is not an executable file"
                    : " is not found on PATH"), SynapseBackupException.USAGE);
        }
    }

    /** Where {@code program} is, resolved as the process that runs it will (PATH unless it has a slash). */
    static Optional<Path> executable(String program) {
        if (program.contains("/")) {
            Path p = Path.of(program);
            return Files.isRegularFile(p) && Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        String path = System.getenv("PATH");
        for (String dir : (path == null ? "/usr/bin:/bin" : path).split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, program);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Prints the outcome; the exit code is the first problem's. */
    private int report(Output out, Repository repo) {
        List<Result> problems = results.stream().filter(r -> !r.ok()).toList();
        int code = problems.isEmpty() ? 0 : problems.get(0).exitCode();
        problems.forEach(p -> out.error(p.detail()));
        if (out.json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("status", problems.isEmpty() ? "active" : "failed");
            if (repo != null) {
                doc.put("repository", repo.location());
            }
            doc.put("exit-code", code);
            doc.put("problems", problems.stream().map(Result::detail).toList());
            List<Map<String, Object>> checks = new ArrayList<>();
            for (Result r : results) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("check", r.check());
                m.put("ok", r.ok());
                m.put(r.ok() ? "detail" : "problem", r.detail());
                if (!r.ok()) {
                    m.put("exit-code", r.exitCode());
                }
                checks.add(m);
            }
            doc.put("checks", checks);
            out.json(doc);
        } else if (problems.isEmpty()) {
            out.result("active");
        }
        return code;
    }
}
