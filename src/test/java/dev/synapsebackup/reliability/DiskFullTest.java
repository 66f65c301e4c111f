package dev.synapsebackup.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk, for real: the live homeserver (and so the staging beside it) on a small tmpfs.
 * The up-front free-space check refuses what cannot fit; a real ENOSPC during staging (a tmpfs
 * that runs out of inodes while reporting free bytes) fails cleanly. Live data is untouched
 * either way. Needs permission to mount a tmpfs (root here); skipped, saying why, without it.
 */
class DiskFullTest {
    private static final String PASSPHRASE = "disk full passphrase";

    @TempDir
    Path tmp;

    Path mount;

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            Procs.bash("umount -l " + Procs.q(mount), Map.of(), null);
        }
    }

    /** Mounts a tmpfs with {@code options} at a new directory, or skips the test if not permitted. */
    private Path tmpfs(String options) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("tmpfs"));
        Procs.Result r = Procs.bash("mount -t tmpfs -o " + options + " tmpfs " + Procs.q(dir), Map.of(), null);
        assumeTrue(r.exitCode() == 0, "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): " + r.stderr().strip());
        mount = dir;
        return dir;
    }

    private Path config(Path yaml) throws IOException {
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, PASSPHRASE + "\n");
        Path c = tmp.resolve("config.yaml");
        Files.writeString(c, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                service:
                  stop-command: [/bin/sh, -c, "echo stop >> %s"]
                  start-command: [/bin/sh, -c, "echo start >> %s"]
                """.formatted(yaml, tmp.resolve("repo"), pass, tmp.resolve("service.log"), tmp.resolve("service.log")));
        return c;
    }

    private static Cli.Result cli(Path config, String... args) {
        String[] all = java.util.Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--config";
        all[args.length + 1] = config.toString();
        return new Cli().run(all);
    }

    private static List<Path> staging(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".synapse-restore-")).toList();
        }
    }

    private static long inodesUsed(Path dir) throws Exception {
        Procs.Result r = Procs.bash("df --output=iused " + Procs.q(dir) + " | tail -1", Map.of(), null);
        return Long.parseLong(r.stdout().strip());
    }

    @Test
    void freeSpaceCheckRefusesARestoreThatCannotFitBeforeTouchingAnything() throws Exception {
        Path fs = tmpfs("size=60m");
        Path yaml = SampleHomeserver.generate(fs.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(20, 20_000_000));
        Path config = config(yaml);
        Cli.Result c = cli(config, "create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();
        Map<String, String> before = Trees.fingerprint(fs.resolve("hs"));
        Cli.Result r = cli(config, "restore", id);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("not enough free space").contains(fs.toString()).contains("nothing was changed")
                .doesNotContain("\tat ");
        assertThat(Trees.fingerprint(fs.resolve("hs"))).isEqualTo(before);
        assertThat(staging(fs)).isEmpty();
        assertThat(tmp.resolve("service.log")).doesNotExist();
    }

    @Test
    void realEnospcDuringStagingFailsCleanlyAndLeavesLiveUntouched() throws Exception {
        // Plenty of bytes (the free-space check passes) but hardly a spare inode: staging the
        // files is what runs out, with a real "No space left on device".
        Path fs = tmpfs("size=400m,nr_inodes=400");
        Path yaml = SampleHomeserver.generate(fs.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(40, 8_000_000));
        Path config = config(yaml);
        Cli.Result c = cli(config, "create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();
        // Leave about 40 free inodes: fewer than the restore's staged files and directories.
        long used = inodesUsed(fs);
        Path filler = Files.createDirectories(fs.resolve("filler"));
        for (long i = used; i < 400 - 40; i++) {
            Files.createFile(filler.resolve("f" + i));
        }
        Map<String, String> before = Trees.fingerprint(fs.resolve("hs"));
        Cli.Result r = cli(config, "restore", id);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("No space left on device").contains("the live data was not changed")
                .doesNotContain("\tat ");
        assertThat(Trees.fingerprint(fs.resolve("hs"))).isEqualTo(before);
        assertThat(staging(fs)).isEmpty();
        assertThat(tmp.resolve("service.log")).doesNotExist();
    }

    @Test
    void realEnospcDuringATargetRestoreRemovesWhatItWrote() throws Exception {
        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(20, 8_000_000));
        Path config = config(yaml);
        Cli.Result c = cli(config, "create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        Path fs = tmpfs("size=400m,nr_inodes=30");
        Cli.Result r = cli(config, "restore", c.lastLine(), "--target", fs.toString());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("No space left on device").doesNotContain("\tat ");
        try (Stream<Path> s = Files.list(fs)) {
            assertThat(s).isEmpty();
        }
    }
}
