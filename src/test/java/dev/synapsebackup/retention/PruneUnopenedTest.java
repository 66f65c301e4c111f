package dev.synapsebackup.retention;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.manifest.DependencyReader;
import dev.synapsebackup.repository.BackupEntry;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Planning a prune when the passphrase does not open some kept backups: they are named, and
 * everything they may need is kept (the chain their metadata names, or every older backup where
 * the metadata does not say).
 */
class PruneUnopenedTest {
    static final Clock NOW = Clock.fixed(Instant.parse("2024-06-01T00:00:00Z"), ZoneOffset.UTC);

    private static BackupEntry entry(String id, String kind, String parent) {
        return new BackupEntry(id, Instant.parse("2024-05-01T00:00:00Z"), 1, BackupEntry.Status.COMPLETE, kind, parent);
    }

    private static String id(int day) {
        return String.format("backup-202405%02d000000000000", day);
    }

    /** Opens the backups of {@code readable} (a full chain with no dependencies), not the others. */
    private static DependencyReader reader(Set<String> readable) {
        return id -> {
            if (!readable.contains(id)) {
                throw new IntegrityException(OpenPgp.WRONG_PASSPHRASE);
            }
            return Set.of();
        };
    }

    @Test
    void unopenedKeptBackupKeepsTheChainItsMetadataNames() {
        // 1 full (readable), 2 full (other passphrase), 3 and 4 incrementals on 2 and 3.
        List<BackupEntry> entries = List.of(entry(id(1), "full", null), entry(id(2), "full", null),
                entry(id(3), "incremental", id(2)), entry(id(4), "incremental", id(3)));
        PrunePlan plan = Pruner.plan(entries, KeepPolicy.keepLast(1), reader(Set.of(id(1))), NOW);
        assertThat(plan.kept()).containsExactly(id(2), id(3), id(4));
        assertThat(plan.removed()).containsExactly(id(1));
        assertThat(plan.warnings()).anyMatch(w -> w.startsWith("passphrase does not open backup " + id(4)));
        assertThat(plan.decision(id(4)).orElseThrow().reasons()).anyMatch(r -> r.contains("passphrase does not open it"));
    }

    @Test
    void withoutMetadataEveryOlderBackupIsKept() {
        List<BackupEntry> entries = List.of(entry(id(1), null, null), entry(id(2), null, null), entry(id(3), null, null));
        PrunePlan plan = Pruner.plan(entries, KeepPolicy.keepLast(1), reader(Set.of()), NOW);
        assertThat(plan.kept()).containsExactly(id(1), id(2), id(3));
        assertThat(plan.removed()).isEmpty();
    }

    @Test
    void aFullBackupByItsMetadataNeedsNothing() {
        List<BackupEntry> entries = List.of(entry(id(1), "full", null), entry(id(2), "full", null));
        assertThat(Pruner.assumedDependencies(id(2), entries)).isEmpty();
        assertThat(Pruner.plan(entries, KeepPolicy.keepLast(1), reader(Set.of()), NOW).removed()).containsExactly(id(1));
    }
}
