package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.RepositoryLock;
import dev.synapsebackup.retention.FakeBackups;
import dev.synapsebackup.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** prune, delete and unlock through the real command line against a local repository. */
class PruneCliTest {
    static final String A = "backup-20240501000000000000";
    static final String B = "backup-20240502000000000000";
    static final String C = "backup-20240503000000000000";

    @TempDir
    Path tmp;

    Path repoDir;
    Path passFile;
    LocalRepository repo;

    @BeforeEach
    void setUp() throws Exception {
        repoDir = Files.createDirectory(tmp.resolve("repo"));
        passFile = tmp.resolve("pass");
        Files.writeString(passFile, FakeBackups.PASSPHRASE + "\n");
        // Readable by its owner only, as a passphrase file should be (else every run warns).
        java.nio.file.Files.setPosixFilePermissions(passFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        repo = new LocalRepository(repoDir);
        new FakeBackups(repo).complete(A).complete(B).complete(C, B);
    }

    private Cli.Result run(String... args) {
        String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(new String[] {"--repo", repoDir.toString(), "--passphrase-file", passFile.toString()}, 0, all, args.length, 4);
        return new Cli().run(all);
    }

    private List<String> ids() {
        return repo.list().stream().map(BackupEntry::id).toList();
    }

    @Test
    void dryRunPrintsTheDecisionsAndDeletesNothing() {
        Cli.Result r = run("prune", "--keep-last", "1", "--dry-run");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout().split("\n")).containsExactly(
                "remove  " + A + "  2024-05-01T00:00:00Z  no keep rule matched",
                "keep    " + B + "  2024-05-02T00:00:00Z  needed by " + C + " (kept)",
                "keep    " + C + "  2024-05-03T00:00:00Z  last backup (1 of 1)",
                "dry run: would keep 2, would remove 1 of 3 backups");
        assertThat(ids()).containsExactly(A, B, C);
    }

    @Test
    void pruneDeletesAndReportsAsJson() throws Exception {
        Cli.Result r = run("prune", "--keep-daily", "1", "--json");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        JsonNode doc = new ObjectMapper().readTree(r.stdout());
        assertThat(doc.get("dry-run").asBoolean()).isFalse();
        assertThat(doc.get("removed").toString()).isEqualTo("[\"" + A + "\"]");
        assertThat(doc.get("backups").get(1).get("reasons").get(0).asText()).isEqualTo("needed by " + C + " (kept)");
        assertThat(ids()).containsExactly(B, C);
    }

    @Test
    void noRuleIsAUsageError() {
        Cli.Result r = run("prune");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.stderr()).contains("--keep-last").contains("--keep-within");
        Cli.Result bad = run("prune", "--keep-daily", "-3");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(run("prune", "--keep-within", "soon").exitCode()).isEqualTo(2);
        assertThat(ids()).containsExactly(A, B, C);
    }

    @Test
    void pruneFailsWithExit6WhileAnotherRunHoldsTheLock() {
        try (RepositoryLock held = RepositoryLock.builder(repo, "create").owner("web-1", 1234).acquire()) {
            Cli.Result r = run("prune", "--keep-last", "1");
            assertThat(r.exitCode()).isEqualTo(6);
            assertThat(r.stderr()).startsWith("repository is locked by create on web-1 (pid 1234) since ")
                    .contains("run \"synapse-backup unlock\"");
            Cli.Result d = run("delete", C);
            assertThat(d.exitCode()).isEqualTo(6);
            held.checkStillHeld();
        }
        assertThat(ids()).containsExactly(A, B, C);
    }

    @Test
    void deleteRefusesABackupWithDependantsUnlessForced() {
        Cli.Result refused = run("delete", B);
        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(refused.stderr()).contains("backup " + B + " is needed by " + C).contains("--force");
        assertThat(ids()).containsExactly(A, B, C);
        Cli.Result forced = run("delete", B, "--force");
        assertThat(forced.exitCode()).as(forced.toString()).isZero();
        assertThat(forced.stderr()).contains("deleting the backups that depend on " + B + ": " + C)
                .contains("Deleted " + C).contains("Deleted " + B);
        assertThat(ids()).containsExactly(A);
    }

    @Test
    void unlockRemovesStaleLocksAndForceRemovesAny() {
        Clock longAgo = Clock.fixed(Instant.parse("2020-01-01T00:00:00Z"), ZoneOffset.UTC);
        RepositoryLock.builder(repo, "create").owner("dead-host", 1).clock(longAgo).refreshInterval(java.time.Duration.ZERO).acquire();
        Cli.Result r = run("unlock");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEqualTo("removed 1 lock\n");
        assertThat(r.stderr()).contains("removed the lock of create on dead-host (pid 1)");
        assertThat(RepositoryLock.list(repo)).isEmpty();

        RepositoryLock.builder(repo, "create").owner("live-host", 2).refreshInterval(java.time.Duration.ZERO).acquire();
        Cli.Result kept = run("unlock");
        assertThat(kept.exitCode()).isZero();
        assertThat(kept.stdout()).isEqualTo("removed 0 locks\n");
        assertThat(kept.stderr()).contains("left the live lock of create on live-host (pid 2)").contains("--force");
        assertThat(RepositoryLock.list(repo)).hasSize(1);
        Cli.Result forced = run("unlock", "--force");
        assertThat(forced.stdout()).isEqualTo("removed 1 lock\n");
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }

    @Test
    void helpListsTheNewCommands() {
        Cli.Result r = new Cli().run("--help");
        assertThat(r.stdout()).contains("prune").contains("unlock");
        assertThat(new Cli().run("prune", "--help").stdout()).contains("--keep-within").contains("--dry-run").contains("--repo");
    }
}
