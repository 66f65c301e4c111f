package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real command line against a local directory repository. */
class LocalCliTest {
    @TempDir
    Path dir;

    /** The launcher's class data sharing training: every command on a throwaway sample, nothing left behind. */
    @Test
    void trainStartupRunsAndLeavesNothing() throws Exception {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        Supplier<List<Path>> leftovers = () -> {
            try (Stream<Path> s = Files.list(tmp)) {
                return s.filter(p -> p.getFileName().toString().startsWith("synapse-backup-training-")).toList();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        List<Path> before = leftovers.get();
        Cli.Result r = new Cli().run("train-startup");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEmpty();
        assertThat(leftovers.get()).isEqualTo(before);
    }

    /** A sample homeserver and a passphrase file: everything check needs besides the repository. */
    private String[] setup(String... args) throws IOException {
        Path yaml = dir.resolve("hs/etc/homeserver.yaml");
        if (!Files.exists(yaml)) {
            SampleHomeserver.generate(dir.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(2, 10_000));
            Files.writeString(dir.resolve("passphrase"), "check passphrase\n");
            Files.setPosixFilePermissions(dir.resolve("passphrase"), PosixFilePermissions.fromString("rw-------"));
        }
        List<String> a = new java.util.ArrayList<>(List.of(args));
        a.addAll(List.of("--synapse-config", yaml.toString(), "--passphrase-file", dir.resolve("passphrase").toString()));
        return a.toArray(String[]::new);
    }

    @Test
    void checkActiveOnExistingDirectory() throws IOException {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Cli.Result r = new Cli().run(setup("check", "--repo", repo.toString()));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEqualTo("active\n");
        assertThat(r.stderr()).isEmpty();
    }

    @Test
    void checkMissingDirectoryIsExit3WithStatusLine() throws IOException {
        Path missing = dir.resolve("nope");
        Cli.Result r = new Cli().run(setup("check", "--repo", missing.toString()));
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stderr()).isEqualTo("Backup: S3 bucket does not exist or cannot be accessed (repository directory "
                + missing + " does not exist)\n");
        assertThat(r.stdout()).isEmpty();
    }

    /** SPEC §7: check checks what create needs, one line per problem; the first problem's code. */
    @Test
    void checkReportsEveryProblemOfTheSetup() throws IOException {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Cli.Result none = new Cli().run("check", "--repo", repo.toString(), "--synapse-config", "/nonexistent");
        assertThat(none.exitCode()).as(none.toString()).isEqualTo(2);
        assertThat(none.stdout()).isEmpty();
        assertThat(none.stderr().lines().toList()).containsExactly(
                "Synapse configuration: Synapse configuration file /nonexistent does not exist",
                "no backup passphrase is configured: set \"passphrase-file\" in the config file, --passphrase-file,"
                        + " SYNAPSE_BACKUP_PASSPHRASE_FILE or SYNAPSE_BACKUP_PASSPHRASE");

        // A repository problem comes first, with its charm status line and exit code.
        Cli.Result both = new Cli().run("check", "--repo", dir.resolve("nope").toString(), "--synapse-config", "/nonexistent");
        assertThat(both.exitCode()).isEqualTo(3);
        assertThat(both.stderr().lines().toList()).hasSize(3)
                .first().asString().startsWith("Backup: S3 bucket does not exist or cannot be accessed (");

        // Paths in homeserver.yaml, and service commands that cannot run.
        String[] args = setup("check", "--repo", repo.toString());
        Files.delete(dir.resolve("hs/etc/" + SampleHomeserver.SERVER_NAME + ".signing.key"));
        Path cfg = dir.resolve("svc.yaml");
        Files.writeString(cfg, "service:\n  stop-command: [/nonexistent/stop]\n  start-command: [no-such-program-xyz, start]\n");
        String[] withCfg = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of("--config", cfg.toString())).toArray(String[]::new);
        Cli.Result paths = new Cli().run(withCfg);
        assertThat(paths.exitCode()).as(paths.toString()).isEqualTo(2);
        assertThat(paths.stderr().lines().toList()).containsExactly(
                "signing key " + dir.resolve("hs/etc/" + SampleHomeserver.SERVER_NAME + ".signing.key")
                        + " (signing_key_path) does not exist",
                "service.stop-command: /nonexistent/stop is not an executable file",
                "service.start-command: no-such-program-xyz is not found on PATH");
    }

    @Test
    void checkPassphraseAgainstTheNewestBackup() throws Exception {
        Path repo = dir.resolve("repo");
        Cli.Result created = new Cli().run(setup("create", "--repo", repo.toString(), "--quiet"));
        assertThat(created.exitCode()).as(created.toString()).isZero();
        String id = created.lastLine();
        assertThat(new Cli().run(setup("check", "--repo", repo.toString())).stdout()).isEqualTo("active\n");

        Path wrong = dir.resolve("wrong");
        Files.writeString(wrong, "not the passphrase\n");
        Files.setPosixFilePermissions(wrong, PosixFilePermissions.fromString("rw-------"));
        String[] args = setup("check", "--repo", repo.toString(), "--json");
        args[args.length - 1] = wrong.toString();
        Cli.Result r = new Cli().run(args);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(5);
        assertThat(r.stderr()).isEqualTo("passphrase does not open backup " + id + ", the newest in the repository\n");
        JsonNode doc = new ObjectMapper().readTree(r.stdout());
        assertThat(doc.get("status").asText()).isEqualTo("failed");
        assertThat(doc.get("exit-code").asInt()).isEqualTo(5);
        List<String> failed = new java.util.ArrayList<>();
        doc.get("checks").forEach(c -> {
            if (!c.get("ok").asBoolean()) {
                failed.add(c.get("check").asText());
            }
        });
        assertThat(failed).containsExactly("passphrase");
    }

    @Test
    void checkInvalidConfigurationIsExit2WithStatusLine() throws Exception {
        Path cfg = dir.resolve("c.yaml");
        Files.writeString(cfg, "s3: {bucket: b}\n");
        Cli.Result r = new Cli().run("check", "--config", cfg.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).isEqualTo("Backup: S3 configuration is invalid (one of \"region\" or \"endpoint\" needs to be set)\n");
    }

    @Test
    void checkJson() throws Exception {
        Cli.Result r = new Cli().run(setup("check", "--json", "--repo", Files.createDirectories(dir.resolve("repo")).toString()));
        JsonNode doc = new ObjectMapper().readTree(r.stdout());
        assertThat(doc.get("status").asText()).isEqualTo("active");
        assertThat(doc.get("checks").findValuesAsText("check")).contains("repository", "synapse-config", "signing-key",
                "database", "media-store", "passphrase", "service.stop-command", "service.start-command");
        assertThat(r.exitCode()).isZero();
    }

    @Test
    void listTableAndJsonOldestFirst() throws Exception {
        LocalRepository repo = new LocalRepository(dir);
        repo.put("backup-20240102000000000000", new byte[2048], Map.of(BackupId.FORMAT_METADATA, "1"));
        repo.put("backup-20240102000000000000.manifest", new byte[5], Map.of());
        repo.put("backup-20231231000000000000", new byte[100], Map.of());
        Files.setLastModifiedTime(dir.resolve("backup-20240102000000000000"), FileTime.from(Instant.parse("2024-01-02T00:00:01Z")));
        Files.setLastModifiedTime(dir.resolve("backup-20231231000000000000"), FileTime.from(Instant.parse("2023-12-31T00:00:00Z")));

        Cli.Result r = new Cli().run("list", "--repo", dir.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        String[] lines = r.stdout().split("\n");
        assertThat(lines).hasSize(3);
        assertThat(lines[0]).startsWith("backup-id").contains("| last-modified").contains("| size");
        assertThat(lines[1]).startsWith("backup-20231231000000000000 | 2023-12-31T00:00:00Z | 100 (100 B)").endsWith("| foreign");
        assertThat(lines[2]).startsWith("backup-20240102000000000000 | 2024-01-02T00:00:01Z | 2048 (2.0 KiB)").endsWith("| complete");

        Cli.Result j = new Cli().run("list", "--json", "--repo", dir.toString());
        JsonNode doc = new ObjectMapper().readTree(j.stdout());
        JsonNode b = doc.get("backups").get("backup-20240102000000000000");
        assertThat(b.get("last-modified").asText()).isEqualTo("2024-01-02T00:00:01Z");
        assertThat(b.get("size").asLong()).isEqualTo(2048);
        assertThat(doc.get("backups").fieldNames()).toIterable()
                .containsExactly("backup-20231231000000000000", "backup-20240102000000000000");
    }

    @Test
    void deleteExistingAndMissing() throws Exception {
        LocalRepository repo = new LocalRepository(dir);
        repo.put("backup-20240102000000000000", new byte[1], Map.of());
        Cli.Result ok = new Cli().run("delete", "backup-20240102000000000000", "--repo", dir.toString());
        assertThat(ok.exitCode()).as(ok.toString()).isZero();
        assertThat(repo.exists("backup-20240102000000000000")).isFalse();
        Cli.Result missing = new Cli().run("delete", "backup-20240102000000000000", "--repo", dir.toString());
        assertThat(missing.exitCode()).isEqualTo(4);
        assertThat(missing.stderr()).isEqualTo("backup-id backup-20240102000000000000 does not exist\n");
    }

    @Test
    void usageErrorsAreExit2() {
        Cli.Result r = new Cli().run("delete", "--repo", dir.toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).contains("ID");
        assertThat(new Cli().run("frobnicate").exitCode()).isEqualTo(2);
        assertThat(new Cli().run().exitCode()).isEqualTo(2);
    }

    @Test
    void helpOnEveryCommand() {
        for (String cmd : new String[] {"check", "list", "delete"}) {
            Cli.Result r = new Cli().run(cmd, "--help");
            assertThat(r.exitCode()).isZero();
            assertThat(r.stdout()).contains("Usage: synapse-backup " + cmd).contains("--passphrase-file").contains("--repo");
        }
    }

    /** The help reads well: one full-sentence summary per command, no line cut or longer than 80 columns. */
    @Test
    void helpReadsWell() {
        Cli.Result top = new Cli().run("--help");
        assertThat(top.exitCode()).isZero();
        String text = top.stdout();
        assertThat(text).contains("Examples:").contains("Exit codes:");
        List<String> commands = text.substring(text.indexOf("Commands:"), text.indexOf("Examples:")).lines()
                .filter(l -> l.startsWith("  ")).toList();
        assertThat(commands).hasSizeGreaterThanOrEqualTo(9).allSatisfy(l -> assertThat(l.strip()).endsWith("."));
        for (String cmd : new String[] {"check", "create", "list", "show", "verify", "restore", "delete", "prune", "unlock"}) {
            String help = new Cli().run(cmd, "--help").stdout();
            assertThat(help).as(cmd).contains("Examples:").contains("  synapse-backup " + cmd);
            assertThat(help.lines()).as(cmd).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(80));
            // The summary line is the first, a whole sentence.
            assertThat(help.lines().findFirst().orElseThrow()).as(cmd).endsWith(".");
        }
        assertThat(text.lines()).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(80));
        assertThat(new Cli().run("list", "--help").stdout().replace("\n", " "))
                .contains("backup-id | last-modified | size | kind | parent | status");
    }

    @Test
    void environmentRepository() throws IOException {
        setup();
        Cli.Result r = new Cli().env("SYNAPSE_BACKUP_REPOSITORY", dir.toString())
                .env("SYNAPSE_CONFIG_PATH", dir.resolve("hs/etc/homeserver.yaml").toString())
                .env("SYNAPSE_BACKUP_PASSPHRASE", "from the environment").run("check");
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }
}
