package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.testing.Cli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
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

    @Test
    void checkActiveOnExistingDirectory() {
        Cli.Result r = new Cli().run("check", "--repo", dir.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEqualTo("active\n");
    }

    @Test
    void checkMissingDirectoryIsExit3WithStatusLine() {
        Path missing = dir.resolve("nope");
        Cli.Result r = new Cli().run("check", "--repo", missing.toString());
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stderr()).isEqualTo("Backup: S3 bucket does not exist or cannot be accessed (repository directory "
                + missing + " does not exist)\n");
        assertThat(r.stdout()).isEmpty();
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
        Cli.Result r = new Cli().run("check", "--json", "--repo", dir.toString());
        JsonNode doc = new ObjectMapper().readTree(r.stdout());
        assertThat(doc.get("status").asText()).isEqualTo("active");
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

    @Test
    void environmentRepository() {
        Cli.Result r = new Cli().env("SYNAPSE_BACKUP_REPOSITORY", dir.toString()).run("check");
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }
}
