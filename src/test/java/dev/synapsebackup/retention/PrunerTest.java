package dev.synapsebackup.retention;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.RepositoryLockedException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.manifest.DependencyReader;
import dev.synapsebackup.manifest.ManifestDependencyReader;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryLock;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Pruner against real repositories with real encrypted manifests. */
class PrunerTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    static final Clock NOW = Clock.fixed(Instant.parse("2024-06-01T00:00:00Z"), ZoneOffset.UTC);
    static final String A = "backup-20240501000000000000";           // full, needed by nobody
    static final String B = "backup-20240502000000000000";           // full, needed by C
    static final String C = "backup-20240503000000000000";           // incremental on B
    static final String OLD_UNFINISHED = "backup-20240501120000000000";
    static final String CHARM = "backup-20240504000000000000";        // the charm's: no manifest
    static final String YOUNG_UNFINISHED = "backup-20240531230000000000";
    static final String CHARM_DIGITS = "20240505000000000000";           // the charm's, without "backup-"

    @TempDir
    Path dir;

    private static void populate(Repository repo) {
        new FakeBackups(repo).complete(A).complete(B).complete(C, B).unfinished(OLD_UNFINISHED).foreign(CHARM)
                .unfinished(YOUNG_UNFINISHED);
    }

    /** The real reader, counting which manifests it had to open. */
    private static DependencyReader counting(Repository repo, List<String> calls) {
        ManifestDependencyReader real = new ManifestDependencyReader(repo, () -> Secret.of(FakeBackups.PASSPHRASE), null);
        return id -> {
            calls.add(id);
            return real.dependsOn(id);
        };
    }

    private static List<String> ids(Repository repo) {
        return repo.list().stream().map(BackupEntry::id).sorted().toList();
    }

    @Test
    void dryRunPlansAndDeletesNothingThenPruneDeletesWhatThePlanSays() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        populate(repo);
        // The charm's digits without "backup-" are a backup too; other names and nested keys are not.
        new FakeBackups(repo).foreign(CHARM_DIGITS).foreign("nightly-charm.tar.gpg").foreign("0junk/x").foreign("0junk/y");
        Files.setLastModifiedTime(dir.resolve(CHARM_DIGITS), FileTime.from(Instant.parse("2024-05-05T00:00:00Z")));
        List<String> before = ids(repo);

        List<String> calls = new ArrayList<>();
        KeepPolicy policy = KeepPolicy.keepLast(3);
        Pruner.PruneResult dry = Pruner.prune(repo, policy, true, counting(repo, calls), NOW);
        assertThat(ids(repo)).isEqualTo(before);
        PrunePlan plan = dry.plan();
        assertThat(plan.decisions()).extracting(PrunePlan.Decision::id)
                .containsExactly(A, OLD_UNFINISHED, B, C, CHARM, CHARM_DIGITS, YOUNG_UNFINISHED);
        assertThat(plan.kept()).containsExactly(B, C, CHARM, CHARM_DIGITS, YOUNG_UNFINISHED);
        assertThat(plan.removed()).containsExactly(A, OLD_UNFINISHED);
        assertThat(plan.decision(B).orElseThrow().reasons()).containsExactly("needed by " + C + " (kept)");
        assertThat(plan.decision(C).orElseThrow().kind()).isEqualTo(PruneCandidate.Kind.INCREMENTAL);
        assertThat(plan.decision(CHARM_DIGITS).orElseThrow().time()).isEqualTo(Instant.parse("2024-05-05T00:00:00Z"));
        assertThat(plan.decision(OLD_UNFINISHED).orElseThrow().reasons()).containsExactly("unfinished backup older than 1 day");
        assertThat(dry.notBackups()).isEqualTo(3);
        assertThat(dry.notBackupKeys()).containsExactlyInAnyOrder("nightly-charm.tar.gpg", "0junk/x", "0junk/y");

        Pruner.PruneResult real = Pruner.prune(repo, policy, false, counting(repo, new ArrayList<>()), NOW);
        assertThat(real.deleted()).containsExactly(OLD_UNFINISHED, A);
        assertThat(ids(repo)).containsExactlyInAnyOrder(B, C, CHARM, CHARM_DIGITS, YOUNG_UNFINISHED);
        assertThat(repo.stat(BackupId.manifestKey(A))).isEmpty();
        assertThat(repo.stat(BackupId.manifestKey(B))).isPresent();
        for (String other : List.of("nightly-charm.tar.gpg", "0junk/x", "0junk/y")) {
            assertThat(repo.stat(other)).as(other + " is not a backup: left alone").isPresent();
        }
        assertThat(real.notBackups()).isEqualTo(3);
        assertThat(real.warnings()).isEmpty();
        assertThat(RepositoryLock.list(repo)).as("the lock is released").isEmpty();
    }

    @Test
    void onS3NothingButBackupsIsDeletedEvenWhenPruningEverything() throws IOException {
        S3.createBucket("junk");
        try (S3Repository repo = S3Repository.builder(S3.parameters("junk").path("synapse").build()).build()) {
            populate(repo);
            for (int i = 0; i < 30; i++) {
                S3.putObject("junk", "synapse/0junk/" + i, new byte[] {1}, java.util.Map.of());
            }
            S3.putObject("junk", "synapse/" + CHARM_DIGITS + "-notes.txt", new byte[] {1}, java.util.Map.of());
            S3.putObject("junk", "synapse/0junk/" + B, new byte[] {1}, java.util.Map.of()); // nested: not a backup
            S3.putObject("junk", "elsewhere/" + A, new byte[] {1}, java.util.Map.of());     // outside the prefix
            Pruner.PruneResult r = Pruner.prune(repo, KeepPolicy.keepLast(1), false, counting(repo, new ArrayList<>()), NOW);
            assertThat(r.deleted()).containsExactly(C, B, OLD_UNFINISHED, A);
            assertThat(r.notBackups()).isEqualTo(32);
            assertThat(S3.keys("junk")).filteredOn(k -> k.startsWith("synapse/0junk/")).hasSize(31);
            assertThat(S3.keys("junk")).contains("synapse/" + CHARM_DIGITS + "-notes.txt", "elsewhere/" + A,
                    "synapse/" + CHARM, "synapse/" + YOUNG_UNFINISHED);
        }
    }

    @Test
    void onS3TooWithTheFullChainRemovedWhenNothingNeedsIt() throws IOException {
        S3.createBucket("prune");
        try (S3Repository repo = S3Repository.builder(S3.parameters("prune").path("synapse").build()).build()) {
            populate(repo);
            Pruner.PruneResult r = Pruner.prune(repo, KeepPolicy.keepLast(1), false, counting(repo, new ArrayList<>()), NOW);
            assertThat(r.plan().kept()).containsExactly(CHARM, YOUNG_UNFINISHED);
            assertThat(r.deleted()).containsExactly(C, B, OLD_UNFINISHED, A);
            assertThat(S3.keys("prune")).containsExactly("synapse/" + CHARM, "synapse/" + YOUNG_UNFINISHED);
        }
    }

    @Test
    void pruneNeedsTheLockButADryRunDoesNot() throws IOException {
        LocalRepository repo = new LocalRepository(dir);
        populate(repo);
        try (RepositoryLock held = RepositoryLock.builder(repo, "create").owner("other-host", 99).acquire()) {
            assertThatThrownBy(() -> Pruner.prune(repo, KeepPolicy.keepLast(1), false, counting(repo, new ArrayList<>()), NOW))
                    .isInstanceOfSatisfying(RepositoryLockedException.class, e -> assertThat(e.exitCode()).isEqualTo(6))
                    .hasMessageContaining("create on other-host (pid 99)");
            assertThat(ids(repo)).hasSize(6);
            Pruner.PruneResult dry = Pruner.prune(repo, KeepPolicy.keepLast(1), true, counting(repo, new ArrayList<>()), NOW);
            assertThat(dry.plan().removed()).hasSize(4);
            held.checkStillHeld();
        }
    }

    @Test
    void anEmptyPolicyIsRefusedBeforeTouchingTheRepository() {
        LocalRepository repo = new LocalRepository(dir.resolve("missing"));
        assertThatThrownBy(() -> Pruner.prune(repo, new KeepPolicy(0, 0, 0, 0, 0, 0, null), false, id -> Set.of(), NOW))
                .isInstanceOf(ConfigException.class).hasMessageContaining("--keep-last");
        assertThat(Files.exists(dir.resolve("missing"))).isFalse();
    }
}
