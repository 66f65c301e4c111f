package dev.synapsebackup.restore;

import dev.synapsebackup.Progress;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.create.CreateOptions;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.Trees;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Live restores into a real homeserver layout in temp directories, with a real stop/start script,
 * and every failure mode leaving the live tree byte-identical.
 */
class RestoreTest {
    private static final String PASSPHRASE = "restore test passphrase";

    @TempDir
    Path tmp;

    Path hs;
    Path yaml;
    Path repo;
    Path config;
    Path serviceLog;

    @BeforeEach
    void setUp() throws Exception {
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(30, 2_000_000));
        repo = tmp.resolve("repo");
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, PASSPHRASE + "\n");
        serviceLog = tmp.resolve("service.log");
        Path state = tmp.resolve("service.state");
        Files.writeString(state, "started\n");
        Path script = tmp.resolve("svc.sh");
        // Records every call; refuses to start a running service or stop a stopped one.
        Files.writeString(script, """
                #!/bin/bash
                echo "$1" >> %s
                state=$(cat %s)
                case "$1" in
                  stop)  [ "$state" = started ] || { echo "not running" >&2; exit 1; }; echo stopped > %s ;;
                  start) [ "$state" = stopped ] || { echo "already running" >&2; exit 1; }; echo started > %s ;;
                  fail-stop) echo "permission denied" >&2; exit 3 ;;
                esac
                """.formatted(q(serviceLog), q(state), q(state), q(state)));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        config = tmp.resolve("config.yaml");
        writeConfig(script.toString(), "stop");
    }

    private void writeConfig(String script, String stopVerb) throws IOException {
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                service:
                  stop-command: [%s, %s]
                  start-command: [%s, start]
                """.formatted(yaml, repo, tmp.resolve("passphrase"), script, stopVerb, script));
    }

    private Cli.Result cli(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--config";
        all[args.length + 1] = config.toString();
        return new Cli().run(all);
    }

    private String create() {
        Cli.Result c = cli("create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        return c.lastLine();
    }

    private Map<String, String> live() throws IOException {
        return Trees.fingerprint(hs);
    }

    private List<String> serviceCalls() throws IOException {
        return Files.exists(serviceLog) ? Files.readAllLines(serviceLog) : List.of();
    }

    /** Changes the live server after the backup: new, changed and deleted media, config, rows. */
    private void mutateLive() throws Exception {
        Path lc = hs.resolve("data/media_store/local_content");
        List<Path> files;
        try (Stream<Path> s = Files.walk(lc)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        Files.write(files.get(0), "changed after the backup".getBytes(StandardCharsets.UTF_8));
        Files.delete(files.get(1));
        Files.createDirectories(lc.resolve("zz/zz"));
        Files.writeString(lc.resolve("zz/zz/newmedia"), "uploaded after the backup");
        Files.writeString(yaml, Files.readString(yaml) + "\n# edited after the backup\n");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + hs.resolve("data/homeserver.db"));
             Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM events");
        }
    }

    private long rows(String table) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + hs.resolve("data/homeserver.db"));
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The fingerprint without the database files (compared by rows instead) and directories. */
    private static Map<String, String> withoutDb(Map<String, String> fp) {
        Map<String, String> r = new TreeMap<>(fp);
        r.keySet().removeIf(k -> k.startsWith("data/homeserver.db"));
        r.values().removeIf("dir"::equals);
        return r;
    }

    private List<String> leftovers() throws IOException {
        List<String> r = new ArrayList<>();
        try (Stream<Path> s = Files.walk(tmp)) {
            s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(".pre-restore-") || n.startsWith(".synapse-restore-"))
                    .forEach(r::add);
        }
        return r;
    }

    @Test
    void liveRestoreBringsBackThePointInTimeAndRunsStopThenStart() throws Exception {
        String id = create();
        Map<String, String> atBackup = withoutDb(live());
        long events = rows("events");
        assertThat(events).isPositive();
        mutateLive();
        assertThat(withoutDb(live())).isNotEqualTo(atBackup);

        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("restored: " + id);
        assertThat(withoutDb(live())).isEqualTo(atBackup);
        assertThat(rows("events")).isEqualTo(events);
        assertThat(hs.resolve("data/homeserver.db-wal")).doesNotExist();
        assertThat(serviceCalls()).containsExactly("stop", "start");
        assertThat(leftovers()).isEmpty();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(hs.resolve("etc/sample.example.org.signing.key"))))
                .isEqualTo("rw-------");
    }

    /**
     * local_content linked to another disk: the live restore replaces the link with the restored
     * directory, and leaves the link's target (the replaced data) alone.
     */
    @Test
    void liveRestoreOfASymlinkedMediaRootLeavesTheLinkTargetAlone() throws Exception {
        Path lc = hs.resolve("data/media_store/local_content");
        Path elsewhere = Trees.moveBehindSymlink(lc, tmp.resolve("other-disk/local_content"));
        String id = create();
        Map<String, String> atBackup = Trees.fingerprint(elsewhere);
        Files.writeString(elsewhere.resolve("uploaded-after-the-backup"), "new media");
        Map<String, String> replaced = Trees.fingerprint(elsewhere);

        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(Files.isSymbolicLink(lc)).isFalse();
        assertThat(Trees.fingerprint(lc)).isEqualTo(atBackup);
        assertThat(Trees.fingerprint(elsewhere)).isEqualTo(replaced);
        assertThat(serviceCalls()).containsExactly("stop", "start");
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void keepPreviousKeepsTheReplacedData() throws Exception {
        String id = create();
        mutateLive();
        Cli.Result r = cli("restore", id, "--keep-previous");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(hs.resolve("data/media_store/local_content.pre-restore-" + id).resolve("zz/zz/newmedia")).isRegularFile();
        assertThat(hs.resolve("etc/homeserver.yaml.pre-restore-" + id)).content().contains("edited after the backup");
    }

    @Test
    void dryRunVerifiesAndTouchesNothing() throws Exception {
        String id = create();
        mutateLive();
        Map<String, String> before = live();
        Cli.Result r = cli("restore", id, "--dry-run");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("would replace " + hs.resolve("data/media_store/local_content"))
                .contains("would replace " + yaml).contains("ok (dry run, nothing changed)");
        assertThat(live()).isEqualTo(before);
        assertThat(serviceCalls()).isEmpty();
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void targetRestoreReproducesTheTreeAndRefusesANonEmptyDirectory() throws Exception {
        String id = create();
        Map<String, String> atBackup = withoutDb(live());
        Path target = tmp.resolve("target");
        Cli.Result r = cli("restore", id, "--target", target.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        Map<String, String> restored = withoutDb(Trees.fingerprint(target.resolve(hs.toString().substring(1))));
        Map<String, String> expected = new TreeMap<>(atBackup);
        expected.keySet().removeIf(k -> k.contains("remote_") || k.contains("url_cache"));
        assertThat(restored).isEqualTo(expected);
        assertThat(target.resolve(".synapse-backup/manifest.json")).isRegularFile();
        assertThat(serviceCalls()).isEmpty();

        Cli.Result again = cli("restore", id, "--target", target.toString());
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.stderr()).contains("is not empty");
    }

    private void assertFailsAndLeavesLiveUntouched(String id, int exitCode, String message) throws Exception {
        mutateLive();
        Map<String, String> before = live();
        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(exitCode);
        assertThat(r.stderr()).contains(message);
        assertThat(live()).isEqualTo(before);
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void wrongPassphraseLeavesLiveUntouched() throws Exception {
        String id = create();
        Files.writeString(tmp.resolve("passphrase"), "wrong\n");
        assertFailsAndLeavesLiveUntouched(id, 5, "wrong passphrase or corrupted backup");
        assertThat(serviceCalls()).isEmpty();
    }

    @Test
    void flippedByteLeavesLiveUntouched() throws Exception {
        String id = create();
        try (RandomAccessFile f = new RandomAccessFile(repo.resolve(id).toFile(), "rw")) {
            long pos = f.length() * 2 / 3;
            f.seek(pos);
            int b = f.read();
            f.seek(pos);
            f.write(b ^ 0x10);
        }
        assertFailsAndLeavesLiveUntouched(id, 5, id);
        assertThat(serviceCalls()).isEmpty();
    }

    @Test
    void truncatedObjectLeavesLiveUntouched() throws Exception {
        String id = create();
        try (RandomAccessFile f = new RandomAccessFile(repo.resolve(id).toFile(), "rw")) {
            f.setLength(f.length() - 1000);
        }
        mutateLive();
        Map<String, String> before = live();
        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(5);
        assertThat(live()).isEqualTo(before);
        assertThat(leftovers()).isEmpty();
        assertThat(serviceCalls()).isEmpty();
    }

    @Test
    void failingStopCommandLeavesLiveUntouched() throws Exception {
        String id = create();
        writeConfig(tmp.resolve("svc.sh").toString(), "fail-stop");
        assertFailsAndLeavesLiveUntouched(id, 1, "permission denied");
        assertThat(serviceCalls()).containsExactly("fail-stop");
    }

    @Test
    void failureDuringTheSwapRollsEverythingBack() throws Exception {
        String id = create();
        mutateLive();
        Map<String, String> before = live();
        ToolConfig cfg = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(config, List.of(), null, null, null,
                null, null, null, null));
        try (SynapseBackup sb = SynapseBackup.open(cfg)) {
            // Fail at the fifth rename: some live paths are already aside, some restored ones in place.
            int[] step = {0};
            BackupRestorer restorer = BackupRestorer.of(cfg, sb.repository(), (from, to) -> {
                if (++step[0] == 5) {
                    throw new IOException("injected failure at step 5 (" + from + " -> " + to + ")");
                }
                FileMover.ATOMIC.move(from, to);
            });
            assertThatThrownBy(() -> restorer.restore(id, new RestoreOptions(Secret.of(PASSPHRASE), null, false, false,
                    false, null)))
                    .isInstanceOf(SynapseBackupException.class)
                    .hasMessageContaining("injected failure at step 5")
                    .hasMessageContaining("rolled back");
        }
        assertThat(live()).isEqualTo(before);
        assertThat(leftovers()).isEmpty();
        // Stopped for the swap, started again after the rollback.
        assertThat(serviceCalls()).containsExactly("stop", "start");
    }

    @Test
    void noServiceControlIsRefusedUnlessNoService() throws Exception {
        String id = create();
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                """.formatted(yaml, repo, tmp.resolve("passphrase")));
        mutateLive();
        Map<String, String> before = live();
        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).contains("service.stop-command").contains("--no-service");
        assertThat(live()).isEqualTo(before);
        assertThat(leftovers()).isEmpty();

        Cli.Result ok = cli("restore", id, "--no-service");
        assertThat(ok.exitCode()).as(ok.toString()).isZero();
        assertThat(live()).isNotEqualTo(before);
    }

    @Test
    void pidFileProcessIsStoppedWithSigterm() throws Exception {
        String id = create();
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                """.formatted(yaml, repo, tmp.resolve("passphrase")));
        Process fake = new ProcessBuilder("sleep", "300").start();
        try {
            Files.writeString(hs.resolve("data/homeserver.pid"), fake.pid() + "\n");
            Cli.Result refused = cli("restore", id, "--no-service");
            assertThat(refused.exitCode()).isEqualTo(1);
            assertThat(refused.stderr()).contains("Synapse is still running (pid " + fake.pid());
            assertThat(fake.isAlive()).isTrue();

            Cli.Result r = cli("restore", id);
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(fake.isAlive()).isFalse();
            assertThat(r.stderr()).contains("start it yourself");
        } finally {
            fake.destroyForcibly();
        }
    }

    @Test
    void charmStyleBackupRestoresIntoTheLiveLayout() throws Exception {
        Files.createDirectories(repo);
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        String id = "backup-20240101120000123456";
        Map<String, String> atBackup = withoutDb(live());
        Procs.Result made = Procs.bash("set -o pipefail; tar -c -C / " + q(hs.resolve("etc").toString().substring(1)) + " "
                + q(hs.resolve("data").toString().substring(1)) + " | gpg --batch --symmetric --passphrase-file "
                + q(tmp.resolve("passphrase")) + " > " + q(repo.resolve(id)), Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(made.exitCode()).as(made.stderr()).isZero();
        mutateLive();
        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(withoutDb(live())).isEqualTo(atBackup);
        assertThat(r.stderr()).contains("no manifest");
        assertThat(serviceCalls()).containsExactly("stop", "start");
        assertThat(leftovers()).isEmpty();
    }

    /** A hostile archive, encrypted with the right passphrase and stored as another tool's backup. */
    private String hostile(String name, java.util.function.Consumer<TarArchiveOutputStream> entries) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (OutputStream enc = OpenPgp.encrypt(buf, Secret.of(PASSPHRASE));
             TarArchiveOutputStream tar = new TarArchiveOutputStream(enc)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            // A harmless file first, so that refusal comes after something was staged.
            byte[] ok = "harmless".getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry(hs.resolve("etc/sample.example.org.log.config").toString().substring(1));
            e.setSize(ok.length);
            tar.putArchiveEntry(e);
            tar.write(ok);
            tar.closeArchiveEntry();
            entries.accept(tar);
            tar.finish();
        }
        Files.createDirectories(repo);
        Files.write(repo.resolve(name), buf.toByteArray());
        return name;
    }

    private static void file(TarArchiveOutputStream tar, String name, String content) {
        try {
            byte[] b = content.getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setSize(b.length);
            tar.putArchiveEntry(e);
            tar.write(b);
            tar.closeArchiveEntry();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void special(TarArchiveOutputStream tar, String name, byte type, String link) {
        try {
            TarArchiveEntry e = new TarArchiveEntry(name, type, true);
            if (link != null) {
                e.setLinkName(link);
            }
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void hostileArchivesAreRefusedAndWriteNothing() throws Exception {
        String media = hs.resolve("data/media_store/local_content").toString().substring(1);
        Map<String, java.util.function.Consumer<TarArchiveOutputStream>> cases = new TreeMap<>();
        cases.put("backup-1-dotdot", t -> file(t, media + "/../../../../../../../../tmp/escaped", "x"));
        cases.put("backup-2-outside", t -> file(t, "etc/cron.d/evil", "x"));
        cases.put("backup-3-absolute", t -> file(t, "/" + tmp.resolve("abs-escape").toString().substring(1), "x"));
        cases.put("backup-4-symlink", t -> special(t, media + "/ab/link", TarConstants.LF_SYMLINK, "/etc/passwd"));
        cases.put("backup-5-hardlink", t -> special(t, media + "/ab/hard", TarConstants.LF_LINK, "/etc/passwd"));
        cases.put("backup-6-device", t -> special(t, media + "/ab/dev", TarConstants.LF_CHR, null));
        cases.put("backup-7-fifo", t -> special(t, media + "/ab/fifo", TarConstants.LF_FIFO, null));
        Map<String, String> before = live();
        for (Map.Entry<String, java.util.function.Consumer<TarArchiveOutputStream>> c : cases.entrySet()) {
            String id = hostile(c.getKey(), c.getValue());
            Cli.Result r = cli("restore", id);
            assertThat(r.exitCode()).as(c.getKey() + ": " + r).isEqualTo(5);
            assertThat(r.stderr()).as(c.getKey()).contains("refusing archive entry");
            assertThat(live()).as(c.getKey()).isEqualTo(before);
            assertThat(leftovers()).as(c.getKey()).isEmpty();
            assertThat(tmp.resolve("abs-escape")).doesNotExist();
            assertThat(Path.of("/tmp/escaped")).doesNotExist();
        }
        assertThat(serviceCalls()).isEmpty();
    }

    @Test
    void concurrentCreateWhileRestoreIsStaging() throws Exception {
        String id = create();
        mutateLive();
        ToolConfig cfg = new ConfigLoader(Map.of(), null).load(new ConfigOverrides(config, List.of(), null, null, null,
                null, null, null, null));
        AtomicReference<String> concurrentId = new AtomicReference<>();
        AtomicBoolean fired = new AtomicBoolean();
        Progress createMidway = new Progress() {
            @Override
            public void advance(long bytes) {
                if (!fired.getAndSet(true)) {
                    try (SynapseBackup other = SynapseBackup.open(cfg)) {
                        concurrentId.set(other.create(new CreateOptions(Secret.of(PASSPHRASE), false, null, null)).backupId());
                    }
                }
            }
        };
        Map<String, String> mutated = withoutDb(live());
        try (SynapseBackup sb = SynapseBackup.open(cfg)) {
            RestoreResult r = sb.restore(id, new RestoreOptions(Secret.of(PASSPHRASE), null, false, false, false, createMidway));
            assertThat(r.mode()).isEqualTo("live");
            VerifyResult v = sb.verify(concurrentId.get(), Secret.of(PASSPHRASE), null);
            assertThat(v.ok()).isTrue();
            // The concurrent backup saw the live (mutated) tree, not the staging directories.
            Path target = tmp.resolve("concurrent-target");
            sb.restore(concurrentId.get(), new RestoreOptions(Secret.of(PASSPHRASE), target, false, false, false, null));
            Map<String, String> captured = withoutDb(Trees.fingerprint(target.resolve(hs.toString().substring(1))));
            Map<String, String> expected = new TreeMap<>(mutated);
            expected.keySet().removeIf(k -> k.contains("remote_") || k.contains("url_cache"));
            assertThat(captured).isEqualTo(expected);
        }
        assertThat(leftovers()).isEmpty();
    }
}
