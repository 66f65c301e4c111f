package dev.synapsebackup.create;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.Progress;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.crypto.Recipients;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.GpgKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parent choice on its own, against a real local repository holding a full and an incremental
 * backup made by the tool: which parent, what is read from its manifest, and each reason for a
 * full backup instead.
 */
class ParentChoiceTest {
    private static final Secret PASSPHRASE = Secret.of("parent choice");

    @TempDir
    static Path tmp;

    static Path repoDir;
    static String serverName;
    static String databaseEntry;
    static String full;
    static String incremental;
    static Path work;

    @BeforeAll
    static void twoBackups() throws IOException {
        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults());
        repoDir = tmp.resolve("repo");
        ToolConfig cfg = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(null, List.of(yaml), repoDir, null,
                null, null, null, null, null));
        HomeserverConfig hs = HomeserverConfig.load(List.of(yaml));
        serverName = hs.serverName();
        databaseEntry = Manifest.entryName(((DatabaseConfig.Sqlite) hs.database()).path().toAbsolutePath().normalize());
        try (SynapseBackup sb = SynapseBackup.open(cfg)) {
            full = sb.create(new CreateOptions(PASSPHRASE, false, null, null)).backupId();
            incremental = sb.create(new CreateOptions(PASSPHRASE, false, null, null)).backupId();
        }
        work = Files.createTempDirectory(WorkDir.get(), "parent-choice-test-");
    }

    @AfterAll
    static void removeWork() {
        WorkDir.deleteTemporary(work);
    }

    /** A choice under {@code options}, and the warnings it gave. */
    private record Choice(Parent parent, List<String> warnings) {
    }

    private static Choice choose(CreateOptions options, String server, Instant now, List<BackupEntry> entries)
            throws IOException {
        List<String> warnings = new ArrayList<>();
        Progress progress = new Progress() {
            @Override
            public void warn(String message) {
                warnings.add(message);
            }
        };
        CreateOptions o = new CreateOptions(options.passphrase(), false, null, progress, options.forceFull(),
                options.fullEvery(), options.newPassphrase());
        Path dir = Files.createTempDirectory(work, "choice-");
        Parent p = new ParentChoice(new LocalRepository(repoDir), server, o).choose(now, entries, dir, databaseEntry);
        return new Choice(p, warnings);
    }

    private static List<BackupEntry> entries() {
        return new LocalRepository(repoDir).listWithoutMetadata();
    }

    private static Instant soon() {
        return BackupId.timeOf(incremental).orElseThrow().plusSeconds(60);
    }

    private static CreateOptions options() {
        return new CreateOptions(PASSPHRASE, false, null, null);
    }

    @Test
    void theNewestBackupIsTheParentReadInOnePass() throws IOException {
        Choice c = choose(options(), serverName, soon(), entries());
        Parent p = c.parent();
        assertThat(c.warnings()).isEmpty();
        assertThat(p).isNotNull();
        assertThat(p.id()).isEqualTo(incremental);
        assertThat(p.summary().backupId()).isEqualTo(incremental);
        assertThat(p.summary().fullBackup()).isEqualTo(full);
        assertThat(p.objects()).containsExactly(full, incremental);
        assertThat(p.fullStart()).isEqualTo(BackupId.timeOf(full).orElseThrow());
        assertThat(p.sqliteRecord()).isNotNull();
        assertThat(p.summary().database()).isInstanceOf(DatabaseRecord.Sqlite.class);
        // The database record as the parent's manifest lists it, and the object that holds its bytes.
        assertThat(p.database()).isNotNull();
        assertThat(p.database().path()).isEqualTo(databaseEntry);
        assertThat(p.holding(p.database()).backup()).isIn(full, incremental);
    }

    @Test
    void theNewestByIdEvenWhenACopyReversedTheModificationTimes() throws IOException {
        // A repository copied elsewhere: its full backup's objects were written last.
        List<BackupEntry> copied = entries().stream().map(e -> e.id().equals(full)
                ? new BackupEntry(e.id(), e.lastModified().plusSeconds(3600), e.size(), e.status(), e.kind(), e.parent())
                : e).sorted(Comparator.comparing(BackupEntry::lastModified)).toList();
        assertThat(copied.get(copied.size() - 1).id()).isEqualTo(full);
        Choice c = choose(options(), serverName, soon(), copied);
        assertThat(c.warnings()).isEmpty();
        assertThat(c.parent().id()).isEqualTo(incremental);
    }

    @Test
    void anEmptyRepositoryMeansAFullBackup() throws IOException {
        assertThat(choose(options(), serverName, soon(), List.of()).parent()).isNull();
    }

    @Test
    void aWrongPassphraseIsRefusedUnlessItChangesOnPurpose() throws IOException {
        CreateOptions wrong = new CreateOptions(Secret.of("another passphrase"), false, null, null);
        assertThatThrownBy(() -> choose(wrong, serverName, soon(), entries()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageStartingWith(ParentChoice.passphraseMismatch(incremental))
                .hasMessageContaining("--new-passphrase");
        CreateOptions onPurpose = new CreateOptions(Secret.of("another passphrase"), false, null, null, false, null, true);
        Choice c = choose(onPurpose, serverName, soon(), entries());
        assertThat(c.parent()).isNull();
        assertThat(c.warnings()).isEmpty();
    }

    @Test
    void fullAndFullEveryMakeAFullBackupQuietly() throws IOException {
        CreateOptions forced = new CreateOptions(PASSPHRASE, false, null, null, true, null);
        assertThat(choose(forced, serverName, soon(), entries())).isEqualTo(new Choice(null, List.of()));
        CreateOptions daily = new CreateOptions(PASSPHRASE, false, null, null, false, Duration.ofDays(1));
        Instant later = BackupId.timeOf(full).orElseThrow().plus(Duration.ofDays(1));
        assertThat(choose(daily, serverName, later, entries())).isEqualTo(new Choice(null, List.of()));
    }

    @Test
    void anotherServersBackupIsNoParent() throws IOException {
        Choice c = choose(options(), "other.example", soon(), entries());
        assertThat(c.parent()).isNull();
        assertThat(c.warnings()).singleElement().asString()
                .contains("is of another server (" + serverName + ")").endsWith(": making a full backup");
    }

    @Test
    void aChainWithAMissingObjectIsNoParent() throws IOException {
        List<BackupEntry> withoutFull = entries().stream().filter(e -> !e.id().equals(full)).toList();
        Choice c = choose(options(), serverName, soon(), withoutFull);
        assertThat(c.parent()).isNull();
        assertThat(c.warnings()).containsExactly("data object " + full
                + " of the newest backup's chain is missing: making a full backup");
    }

    @Test
    void aDamagedManifestIsNoParent() throws IOException {
        // A copy of the repository whose newest manifest is damaged (the others' tests use the original).
        Path copy = tmp.resolve("damaged");
        try (var s = Files.walk(repoDir)) {
            for (Path p : s.toList()) {
                Files.copy(p, copy.resolve(repoDir.relativize(p).toString()));
            }
        }
        Path manifest = copy.resolve(BackupId.manifestKey(incremental));
        byte[] bytes = Files.readAllBytes(manifest);
        bytes[bytes.length / 2] ^= 1;
        Files.write(manifest, bytes);
        List<String> warnings = new ArrayList<>();
        Progress progress = new Progress() {
            @Override
            public void warn(String message) {
                warnings.add(message);
            }
        };
        LocalRepository repo = new LocalRepository(copy);
        Parent p = new ParentChoice(repo, serverName, new CreateOptions(PASSPHRASE, false, null, progress))
                .choose(soon(), repo.listWithoutMetadata(), Files.createTempDirectory(work, "damaged-"), databaseEntry);
        assertThat(p).isNull();
        assertThat(warnings).singleElement().asString()
                .startsWith("the manifest of " + incremental + " cannot be read (").endsWith(": making a full backup");
    }

    @Test
    void withPublicKeysAParentWhoseObjectsLieOutsideItsMetadataChainIsNoParent() throws IOException {
        Path base = tmp.resolve("public-keys");
        Path yaml = SampleHomeserver.generate(base.resolve("hs"), SampleHomeserver.Options.defaults());
        Path repo = base.resolve("repo");
        Path state = base.resolve("state");
        try (GpgKeys key = new GpgKeys(base, "key", GpgKeys.Kind.CV25519, "")) {
            Recipients to = Recipients.load(List.of(key.publicKey), "encryption.recipients");
            ToolConfig cfg = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(null, List.of(yaml), repo, null,
                    null, null, null, null, null));
            String first;
            String second;
            try (SynapseBackup sb = SynapseBackup.open(cfg)) {
                first = sb.create(new CreateOptions(null, false, null, null, false, null, false, to, state)).backupId();
                second = sb.create(new CreateOptions(null, false, null, null, false, null, false, to, state)).backupId();
            }
            HomeserverConfig hs = HomeserverConfig.load(List.of(yaml));
            String dbEntry = Manifest.entryName(((DatabaseConfig.Sqlite) hs.database()).path().toAbsolutePath().normalize());
            LocalRepository local = new LocalRepository(repo);
            Instant now = BackupId.timeOf(second).orElseThrow().plusSeconds(60);
            List<BackupEntry> listed = local.list();
            for (boolean metadataSaysFull : new boolean[] {false, true}) {
                // the incremental's metadata claiming it is a full backup: prune would then delete the full one
                List<BackupEntry> entries = listed.stream().map(e -> !metadataSaysFull || !e.id().equals(second) ? e
                        : new BackupEntry(e.id(), e.lastModified(), e.size(), e.status(), "full", null)).toList();
                List<String> warnings = new ArrayList<>();
                Progress progress = new Progress() {
                    @Override
                    public void warn(String message) {
                        warnings.add(message);
                    }
                };
                CreateOptions o = new CreateOptions(null, false, null, progress, false, null, false, to, state);
                Parent p = new ParentChoice(local, hs.serverName(), o, new HostState(state, local.location()))
                        .choose(now, entries, Files.createTempDirectory(work, "public-keys-"), dbEntry);
                if (!metadataSaysFull) {
                    assertThat(warnings).isEmpty();
                    assertThat(p).isNotNull();
                    assertThat(p.objects()).containsExactly(first, second);
                } else {
                    assertThat(p).isNull();
                    assertThat(warnings).singleElement().asString().contains("refers to data object " + first)
                            .contains("not in the chain its metadata names").endsWith(": making a full backup");
                }
            }
        }
    }
}
