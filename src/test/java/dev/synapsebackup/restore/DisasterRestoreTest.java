package dev.synapsebackup.restore;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk lost under a Synapse that runs as its own OS user (here {@code sbtest15a}, playing
 * {@code matrix-synapse}): the live restore must recreate the data directory, the media store and
 * the config directory owned and moded as they were, so that the service user can write in them.
 * Checked as that user (runuser), not only by looking at root's view.
 */
class DisasterRestoreTest {
    private static final String USER = "sbtest15a";
    private static final String PASSPHRASE = "disaster passphrase";

    @TempDir
    Path tmp;

    Path hs;
    Path yaml;
    Path repo;
    Path config;
    Path serviceLog;
    int uid;
    int gid;

    @BeforeEach
    void setUp() throws Exception {
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(12, 300_000));
        repo = tmp.resolve("repo");
        Files.writeString(tmp.resolve("passphrase"), PASSPHRASE + "\n");
        serviceLog = tmp.resolve("service.log");
        Path script = tmp.resolve("svc.sh");
        Files.writeString(script, "#!/bin/bash\necho \"$1\" >> " + q(serviceLog) + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        config = tmp.resolve("config.yaml");
        writeConfig(List.of(script.toString(), "start"));
    }

    private void writeConfig(List<String> start) throws IOException {
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                service:
                  stop-command: [%s, stop]
                  start-command: [%s]
                """.formatted(yaml, repo, tmp.resolve("passphrase"), tmp.resolve("svc.sh"),
                String.join(", ", start.stream().map(s -> "'" + s.replace("'", "''") + "'").toList())));
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

    private static void sh(String script) {
        Procs.Result r = Procs.bash(script, Map.of(), null);
        assertThat(r.exitCode()).as(script + ": " + r.stderr()).isZero();
    }

    /**
     * As a packaged Synapse lays it out: data directory 0750 owned by the service user, the
     * config directory too (as in Synapse's Docker image, where Synapse writes beside its config),
     * homeserver.yaml root:group 0640, signing key 0600.
     */
    private void productionOwnership() throws Exception {
        Assumptions.assumeTrue(Procs.bash("[ \"$(id -u)\" = 0 ]", Map.of(), null).exitCode() == 0, "needs root");
        if (Procs.bash("id -u " + USER, Map.of(), null).exitCode() != 0) {
            sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin " + USER);
        }
        uid = Integer.parseInt(Procs.bash("id -u " + USER, Map.of(), null).stdout().strip());
        gid = Integer.parseInt(Procs.bash("id -g " + USER, Map.of(), null).stdout().strip());
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x")); // traversable by the user
        String u = USER + ":" + USER;
        // "Synapse" starts as its user, and fails as Synapse did if it cannot write its database (WAL mode).
        Files.writeString(tmp.resolve("svc.sh"), "#!/bin/bash\necho \"$1\" >> " + q(serviceLog) + "\n"
                + "if [ \"$1\" = start ]; then exec runuser -u " + USER + " -- sqlite3 " + q(hs.resolve("data/homeserver.db"))
                + " 'PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS started(x); INSERT INTO started VALUES (1);'; fi\n");
        sh("set -e; cd " + q(hs) + "; chown -R " + u + " data etc; chmod 0750 data; chmod 0770 etc; chmod 0750 data/media_store"
                + "; chown root:" + USER + " etc/homeserver.yaml etc/*.log.config; chmod 0640 etc/homeserver.yaml etc/*.log.config"
                + "; chmod 0600 etc/*.signing.key");
    }

    private Map<String, String> attrs(String... relative) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        for (String r : relative) {
            Map<String, Object> a = Files.readAttributes(hs.resolve(r), "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
            m.put(r, Integer.toOctalString((Integer) a.get("mode") & 07777) + " " + a.get("uid") + ":" + a.get("gid"));
        }
        return m;
    }

    /** What Synapse does as its user once started: write its database, media (remote too) and beside its config. */
    private void assertServiceUserCanWrite() {
        Procs.Result r = Procs.run(List.of("runuser", "-u", USER, "--", "bash", "-c", """
                set -e
                cd %s
                sqlite3 data/homeserver.db 'CREATE TABLE written_after_restore(x); INSERT INTO written_after_restore VALUES (1);'
                touch data/new-file data/media_store/new-file data/media_store/local_content/new-file etc/new-file
                mkdir -p data/media_store/remote_content/example.org/ab
                touch data/media_store/remote_content/example.org/ab/cdef
                """.formatted(q(hs))), (byte[]) null, Map.of(), null);
        assertThat(r.exitCode()).as("as " + USER + ": " + r.stderr()).isZero();
    }

    private static final String[] DIRS = {"etc", "data", "data/media_store", "data/media_store/local_content",
        "data/media_store/local_thumbnails", "etc/homeserver.yaml", "etc/" + SampleHomeserver.SERVER_NAME + ".signing.key"};

    @Test
    void lostDataAndConfigDirectoriesComeBackOwnedByTheServiceUser() throws Exception {
        productionOwnership();
        String id = create();
        Map<String, String> before = attrs(DIRS);
        Map<String, String> files = Trees.fingerprint(hs.resolve("data/media_store/local_content"));
        sh("rm -rf " + q(hs.resolve("data")) + " " + q(hs.resolve("etc")));

        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(attrs(DIRS)).isEqualTo(before);
        assertThat(before.get("data")).isEqualTo("750 " + uid + ":" + gid);
        assertThat(Trees.fingerprint(hs.resolve("data/media_store/local_content"))).isEqualTo(files);
        // one line per directory created, with its owner and mode
        assertThat(r.stdout()).contains("create directory " + hs.resolve("etc") + " (" + USER + ":" + USER + " ("
                        + uid + ":" + gid + "), mode 0770)")
                .contains("create directory " + hs.resolve("data") + " (" + USER + ":" + USER + " (" + uid + ":" + gid
                        + "), mode 0750)")
                .contains("create directory " + hs.resolve("data/media_store") + " (");
        assertThat(r.stdout().lines().filter(l -> l.startsWith("create directory "))).hasSize(3);
        assertThat(Files.readAllLines(serviceLog)).containsExactly("stop", "start");
        assertServiceUserCanWrite();
    }

    @Test
    void dataDirectoryRecreatedByTheAdminStillGetsTheMediaStoreBack() throws Exception {
        productionOwnership();
        String id = create();
        Map<String, String> before = attrs(DIRS);
        sh("rm -rf " + q(hs.resolve("data")) + "; install -d -o " + USER + " -g " + USER + " -m 0750 " + q(hs.resolve("data")));

        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(attrs(DIRS)).isEqualTo(before);
        assertThat(r.stderr()).doesNotContain("when the backup was made");
        assertThat(r.stdout().lines().filter(l -> l.startsWith("create directory "))).containsExactly(
                "create directory " + hs.resolve("data/media_store") + " (" + USER + ":" + USER + " (" + uid + ":" + gid
                        + "), mode 0750)");
        assertServiceUserCanWrite();
    }

    /**
     * A new disk mounted where the data directory was: root's, so Synapse cannot write. The
     * restore leaves it alone (it never changes an existing directory) but names it.
     */
    @Test
    void anExistingDirectoryWithAnotherOwnerIsLeftAloneButNamed() throws Exception {
        productionOwnership();
        String id = create();
        sh("rm -rf " + q(hs.resolve("data")) + "; install -d -o root -g root -m 0755 " + q(hs.resolve("data")));
        Cli.Result r = cli("restore", id);
        // The data is in place, but "Synapse" cannot write beside its database: the restore says both.
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(attrs("data").get("data")).isEqualTo("755 0:0");
        assertThat(r.stderr()).contains(hs.resolve("data") + " is root:root (0:0), mode 0755, but was " + USER + ":" + USER
                + " (" + uid + ":" + gid + "), mode 0750 when the backup was made")
                .contains("attempt to write a readonly database").contains("start Synapse by hand");
        assertThat(attrs("data/media_store").get("data/media_store")).isEqualTo("750 " + uid + ":" + gid);
    }

    @Test
    void dryRunSaysWhichDirectoriesItWouldCreate() throws Exception {
        productionOwnership();
        String id = create();
        sh("rm -rf " + q(hs.resolve("data")));
        Cli.Result r = cli("restore", id, "--dry-run");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("would create directory " + hs.resolve("data") + " (" + USER + ":" + USER
                + " (" + uid + ":" + gid + "), mode 0750)");
        assertThat(hs.resolve("data")).doesNotExist();
    }

    /**
     * A backup that records no directories (the charm's: tar of the files, no entries for their
     * parents): a missing parent is made owned like what it holds, and the restore says so.
     */
    @Test
    void backupWithoutDirectoryRecordsCreatesParentsLikeTheirContent() throws Exception {
        productionOwnership();
        Files.setPosixFilePermissions(hs.resolve("data/homeserver.db"), PosixFilePermissions.fromString("rw-------"));
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        String id = "backup-20240101120000123456";
        Files.createDirectories(repo);
        String rel = hs.toString().substring(1);
        Procs.Result made = Procs.bash("set -o pipefail; tar -c -C / " + q(rel + "/etc/homeserver.yaml") + " "
                + q(rel + "/data/homeserver.db") + " " + q(rel + "/data/media_store/local_content")
                + " | gpg --batch --symmetric --passphrase-file " + q(tmp.resolve("passphrase")) + " > " + q(repo.resolve(id)),
                Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(made.exitCode()).as(made.stderr()).isZero();
        sh("rm -rf " + q(hs.resolve("data")));

        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        // like homeserver.db (0600 -> 0700) and like local_content (0755 as generated)
        assertThat(attrs("data").get("data")).isEqualTo("700 " + uid + ":" + gid);
        assertThat(attrs("data/media_store").get("data/media_store")).startsWith("7").endsWith(uid + ":" + gid);
        assertThat(r.stderr()).contains("the backup does not record the owner and mode of " + hs.resolve("data"));
        Procs.Result w = Procs.run(List.of("runuser", "-u", USER, "--", "bash", "-c", "set -e; cd " + q(hs)
                + "; sqlite3 data/homeserver.db 'CREATE TABLE t(x)'; mkdir data/media_store/remote_content"),
                (byte[]) null, Map.of(), null);
        assertThat(w.exitCode()).as(w.stderr()).isZero();
    }

    /** The swap succeeded but the start command fails: the admin learns what is in place and what failed. */
    @Test
    void failingStartCommandSaysWhatWasRestoredAndThatSynapseMustBeStartedByHand() throws Exception {
        String id = create();
        Files.writeString(yaml, Files.readString(yaml) + "\n# edited after the backup\n");
        Files.delete(hs.resolve("data/homeserver.db"));
        writeConfig(List.of("sh", "-c", "echo starting; echo boom >&2; exit 3"));

        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("the backup " + id + " was restored, but Synapse did not start")
                .contains("replaced " + yaml)
                .contains("created " + hs.resolve("data/homeserver.db"))
                .contains("replaced " + hs.resolve("data/media_store/local_content"))
                .contains("failed with exit code 3")
                .contains("| boom")
                .contains("The data is restored")
                .contains("start Synapse by hand");
        // and it is: the restored config is in place, nothing left aside
        assertThat(Files.readString(yaml)).doesNotContain("edited after the backup");
        assertThat(hs.resolve("data/homeserver.db")).isRegularFile();
        assertThat(Files.readAllLines(serviceLog)).containsExactly("stop");
    }
}
