package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.RepositoryLockedException;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Two creates at once: exactly one proceeds, the other fails fast with exit 6 naming the holder. */
class ConcurrentCreateTest {
    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("try") // a lock held for a block that does not use it
    void secondCreateWhileTheFirstRunsIsRefused() throws Exception {
        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults());
        Path repo = tmp.resolve("repo");
        Path pass = tmp.resolve("pass");
        Files.writeString(pass, "pw\n");
        ToolConfig cfg = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(null, List.of(yaml), repo, null, null,
                null, null, null, null));
        AtomicReference<Cli.Result> second = new AtomicReference<>();
        AtomicBoolean ran = new AtomicBoolean();
        Progress duringFirst = new Progress() {
            @Override
            public void advance(long bytes) {
                if (!ran.getAndSet(true)) {
                    // The first create holds the lock and is mid-upload: run a second, real CLI create now.
                    second.set(new Cli().run("create", "--synapse-config", yaml.toString(), "--repo", repo.toString(),
                            "--passphrase-file", pass.toString()));
                }
            }
        };
        String first;
        try (SynapseBackup sb = SynapseBackup.open(cfg)) {
            first = sb.create(new CreateOptions(Secret.of("pw"), false, null, duringFirst)).backupId();
            assertThat(sb.list()).extracting(e -> e.id()).containsExactly(first);
        }
        assertThat(second.get().exitCode()).as(second.get().toString()).isEqualTo(6);
        assertThat(second.get().stderr()).contains("repository is locked by create on").contains("pid " + ProcessHandle.current().pid());
        // The lock is gone once the first run ended: the next create proceeds.
        Cli.Result third = new Cli().run("create", "--synapse-config", yaml.toString(), "--repo", repo.toString(),
                "--passphrase-file", pass.toString());
        assertThat(third.exitCode()).as(third.toString()).isZero();
        try (SynapseBackup sb = SynapseBackup.open(cfg)) {
            assertThatThrownBy(() -> {
                try (var lock = dev.synapsebackup.repository.RepositoryLock.acquire(sb.repository(), "test")) {
                    sb.create(new CreateOptions(Secret.of("pw"), false, null, null));
                }
            }).isInstanceOf(RepositoryLockedException.class);
        }
    }
}
