package dev.synapsebackup.retention;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.RepositoryLockedException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.manifest.DependencyReader;
import dev.synapsebackup.manifest.ManifestDependencyReader;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.RepositoryLock;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** delete refuses to break other backups unless forced. */
class DeleterTest {
    static final String A = "backup-20240501000000000000";
    static final String B = "backup-20240502000000000000";
    static final String C = "backup-20240503000000000000";
    static final String D = "backup-20240504000000000000";
    static final String CHARM = "20240301000000000000"; // the charm's digits, without "backup-"

    @TempDir
    Path dir;

    private LocalRepository repo() {
        LocalRepository repo = new LocalRepository(dir);
        // B needs A; C needs B only (so needs A through B's deletion chain too); D is independent.
        new FakeBackups(repo).complete(A).complete(B, A).complete(C, B).complete(D).foreign(CHARM);
        return repo;
    }

    private static DependencyReader reader(LocalRepository repo) {
        return new ManifestDependencyReader(repo, () -> Secret.of(FakeBackups.PASSPHRASE), null);
    }

    private static List<String> ids(LocalRepository repo) {
        return repo.list().stream().map(BackupEntry::id).sorted().toList();
    }

    @Test
    void refusesABackupOthersDependOnAndNamesThem() {
        LocalRepository repo = repo();
        List<String> info = new ArrayList<>();
        assertThatThrownBy(() -> Deleter.delete(repo, A, false, reader(repo), Clock.systemUTC(), info::add))
                .isInstanceOfSatisfying(SynapseBackupException.class, e -> assertThat(e.exitCode()).isEqualTo(1))
                .hasMessage("backup " + A + " is needed by " + B + ", " + C
                        + ": their files are partly stored in it; delete them first, or use --force to delete them too");
        assertThat(ids(repo)).containsExactly(CHARM, A, B, C, D);
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }

    @Test
    void aDependantWhoseManifestThePassphraseDoesNotOpenStillProtectsWhatItMayNeed() {
        LocalRepository repo = repo();
        DependencyReader cUnderAnotherPassphrase = id -> {
            if (id.equals(C)) {
                throw new dev.synapsebackup.IntegrityException("passphrase does not open backup " + C);
            }
            return reader(repo).dependsOn(id);
        };
        // C's metadata names no chain: every older complete backup counts as needed by it.
        assertThatThrownBy(() -> Deleter.delete(repo, B, false, cUnderAnotherPassphrase, Clock.systemUTC(), s -> { }))
                .isInstanceOfSatisfying(SynapseBackupException.class, e -> assertThat(e.exitCode()).isEqualTo(1))
                .hasMessageStartingWith("backup " + B + " is needed by " + C + ":");
        assertThat(ids(repo)).containsExactly(CHARM, A, B, C, D);
        // The unopened backup itself, which nothing depends on, is deleted as usual.
        assertThat(Deleter.delete(repo, C, false, cUnderAnotherPassphrase, Clock.systemUTC(), s -> { }).deleted())
                .containsExactly(C);
    }

    @Test
    void forceDeletesTheDependantsNewestFirstAfterListingThem() {
        LocalRepository repo = repo();
        List<String> info = new ArrayList<>();
        Deleter.DeleteResult r = Deleter.delete(repo, A, true, reader(repo), Clock.systemUTC(), info::add);
        assertThat(r.dependants()).containsExactly(B, C);
        assertThat(r.deleted()).containsExactly(C, B, A);
        assertThat(info).containsExactly("deleting the backups that depend on " + A + ": " + B + ", " + C);
        assertThat(ids(repo)).containsExactly(CHARM, D);
    }

    @Test
    void aBackupNothingDependsOnIsDeletedAndForeignOnesNeedNoPassphrase() {
        LocalRepository repo = repo();
        assertThat(Deleter.delete(repo, C, false, reader(repo), Clock.systemUTC(), s -> { }).deleted()).containsExactly(C);
        DependencyReader noPassphrase = id -> {
            throw new AssertionError("no manifest should be read to delete a foreign backup");
        };
        assertThat(Deleter.delete(repo, CHARM, false, noPassphrase, Clock.systemUTC(), s -> { }).deleted()).containsExactly(CHARM);
        assertThatThrownBy(() -> Deleter.delete(repo, CHARM, false, noPassphrase, Clock.systemUTC(), s -> { }))
                .isInstanceOf(BackupNotFoundException.class).hasMessage("backup-id " + CHARM + " does not exist");
        assertThat(ids(repo)).containsExactly(A, B, D);
    }

    @Test
    void deleteTakesTheLock() {
        LocalRepository repo = repo();
        try (RepositoryLock held = RepositoryLock.builder(repo, "prune").owner("elsewhere", 5).acquire()) {
            assertThatThrownBy(() -> Deleter.delete(repo, D, false, reader(repo), Clock.systemUTC(), s -> { }))
                    .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("prune on elsewhere (pid 5)");
            held.checkStillHeld();
        }
        assertThat(ids(repo)).contains(D);
    }

    @Test
    void onlyBackupsAreDeleted() throws Exception {
        LocalRepository repo = repo();
        repo.put("0junk/x", new byte[3], Map.of());
        repo.put("notes.txt", new byte[3], Map.of());
        DependencyReader noPassphrase = id -> Set.of();
        for (String key : List.of("0junk/x", "notes.txt")) {
            assertThatThrownBy(() -> Deleter.delete(repo, key, false, noPassphrase, Clock.systemUTC(), s -> { }))
                    .isInstanceOf(BackupNotFoundException.class).hasMessage("backup-id " + key + " does not exist");
            assertThatThrownBy(() -> repo.delete(key)).isInstanceOf(BackupNotFoundException.class);
            assertThat(repo.stat(key)).as(key).isPresent();
        }
        assertThat(repo.listing().notBackups()).isEqualTo(2);
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }
}
