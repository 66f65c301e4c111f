package dev.synapsebackup.create;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.synapse.SqliteFileState;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full → incremental → incremental, each point in time restored and compared with the tree as it
 * was; against a local repository and against S3Proxy.
 */
class IncrementalTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    @TempDir
    Path tmp;

    Path hs;
    Path yaml;
    Path pass;

    private void homeserver() throws IOException {
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(40, 3_000_000));
        pass = tmp.resolve("passphrase");
        Files.writeString(pass, "incremental passphrase\n");
    }

    private Cli cli() {
        return new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
    }

    private String[] args(List<String> repoArgs, String... cmd) {
        List<String> a = new ArrayList<>(List.of(cmd));
        a.addAll(repoArgs);
        a.addAll(List.of("--synapse-config", yaml.toString(), "--passphrase-file", pass.toString()));
        return a.toArray(String[]::new);
    }

    /** What a restore of the backup must reproduce: backed-up files only, by content, mode and mtime. */
    private Map<String, String> backedUp() throws IOException {
        Map<String, String> fp = new TreeMap<>(Trees.fingerprint(hs));
        fp.keySet().removeIf(k -> k.startsWith("data/homeserver.db") || k.contains("remote_") || k.contains("url_cache"));
        fp.values().removeIf("dir"::equals);
        return fp;
    }

    private Map<String, String> restored(Path target) throws IOException {
        Map<String, String> fp = new TreeMap<>(Trees.fingerprint(target.resolve(hs.toString().substring(1))));
        fp.keySet().removeIf(k -> k.startsWith("data/homeserver.db"));
        fp.values().removeIf("dir"::equals);
        return fp;
    }

    private List<Path> localMedia() throws IOException {
        try (Stream<Path> s = Files.walk(hs.resolve("data/media_store/local_content"))) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    private JsonNode createJson(List<String> repoArgs, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("create", "--json", "--quiet"));
        cmd.addAll(List.of(extra));
        Cli.Result c = cli().run(args(repoArgs, cmd.toArray(String[]::new)));
        assertThat(c.exitCode()).as(c.toString()).isZero();
        return new ObjectMapper().readTree(c.stdout());
    }

    private void scenario(List<String> repoArgs) throws Exception {
        // Directories changed (ctime) since shortly before the full backup are archived again by
        // every incremental: let the freshly generated tree age past that slack first.
        Await.treeOlderThan(hs, Duration.ofSeconds(MediaDirectories.CTIME_SLACK_SECONDS + 1));
        // 1. full
        JsonNode full = createJson(repoArgs);
        assertThat(full.get("kind").asText()).isEqualTo("full");
        String fullId = full.get("backup-id").asText();
        Map<String, String> t1 = backedUp();

        // 2. no change: only keys and config are archived again; the database files are unchanged
        JsonNode same = createJson(repoArgs);
        assertThat(same.get("database").asText()).isEqualTo("unchanged");
        assertThat(same.get("kind").asText()).isEqualTo("incremental");
        assertThat(same.get("parent").asText()).isEqualTo(fullId);
        assertThat(same.get("archived-files").asLong()).isEqualTo(3); // yaml, log config, signing key
        assertThat(same.get("files").asLong()).isEqualTo(full.get("files").asLong());
        assertThat(same.get("stored-bytes").asLong()).isLessThan(64 * 1024); // no media directories either

        // the database changes: archived again
        Path db = hs.resolve("data/homeserver.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE incremental_marker (x TEXT)");
            st.execute("INSERT INTO incremental_marker VALUES ('after the full backup')");
        }

        // 3. new media
        Path lc = hs.resolve("data/media_store/local_content");
        Files.createDirectories(lc.resolve("zz/yy"));
        Files.writeString(lc.resolve("zz/yy/newmedia1"), "new media one");
        Files.writeString(lc.resolve("zz/yy/newmedia2"), "new media two");
        JsonNode inc1 = createJson(repoArgs);
        String inc1Id = inc1.get("backup-id").asText();
        assertThat(inc1.get("parent").asText()).isEqualTo(same.get("backup-id").asText());
        assertThat(inc1.get("archived-files").asLong()).isEqualTo(4 + 2); // with the changed database
        Map<String, String> t2 = backedUp();

        // 4. deleted media, and a thumbnail rewritten in place with the same size
        List<Path> media = localMedia();
        Files.delete(media.get(0));
        Path thumb;
        try (Stream<Path> s = Files.walk(hs.resolve("data/media_store/local_thumbnails"))) {
            thumb = s.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
        }
        byte[] tb = Files.readAllBytes(thumb);
        tb[0] ^= 0x55;
        try (RandomAccessFile f = new RandomAccessFile(thumb.toFile(), "rw")) {
            f.write(tb);
        }
        Files.setLastModifiedTime(thumb, FileTime.from(Instant.parse("2025-06-01T12:00:00.123456Z")));
        // and metadata only: a chmod, and (as root) a chown; neither changes size or mtime
        Files.setPosixFilePermissions(media.get(1), PosixFilePermissions.fromString("rw-------"));
        boolean root = Integer.valueOf(0).equals(Files.getAttribute(tmp, "unix:uid"));
        if (root) {
            Files.setAttribute(media.get(2), "unix:uid", 4321, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(media.get(2), "unix:gid", 4322, LinkOption.NOFOLLOW_LINKS);
        }
        int metadataOnly = root ? 2 : 1;
        JsonNode inc2 = createJson(repoArgs);
        String inc2Id = inc2.get("backup-id").asText();
        // the database is inc1's
        assertThat(inc2.get("archived-files").asLong()).isEqualTo(3 + 1 + metadataOnly);
        // written less than SLACK before inc1's snapshot began: inc1's stat is not trusted, the bytes are compared
        assertThat(inc2.get("database").asText()).isEqualTo("identical");
        assertThat(inc2.get("files").asLong()).isEqualTo(inc1.get("files").asLong() - 1);
        Map<String, String> t3 = backedUp();

        // list shows kinds and parents
        Cli.Result l = cli().run(args(repoArgs, "list", "--json"));
        JsonNode backups = new ObjectMapper().readTree(l.stdout()).get("backups");
        assertThat(backups.get(fullId).get("kind").asText()).isEqualTo("full");
        assertThat(backups.get(inc2Id).get("kind").asText()).isEqualTo("incremental");
        assertThat(backups.get(inc2Id).get("parent").asText()).isEqualTo(inc1Id);

        // show tells the chain
        Cli.Result sh = cli().run(args(repoArgs, "show", inc2Id, "--json"));
        JsonNode objects = new ObjectMapper().readTree(sh.stdout()).get("objects");
        assertThat(objects.has(fullId)).isTrue();
        assertThat(objects.has(inc1Id)).isTrue();
        assertThat(objects.get(inc2Id).get("files").asLong()).isEqualTo(4 + metadataOnly);
        assertThat(objects.get(inc1Id).get("files").asLong()).isEqualTo(2 + 1); // new media and the database

        // every point in time verifies and restores as it was
        String[][] points = {{fullId, "t1"}, {inc1Id, "t2"}, {inc2Id, "t3"}};
        List<Map<String, String>> trees = List.of(t1, t2, t3);
        for (int i = 0; i < points.length; i++) {
            String id = points[i][0];
            Cli.Result v = cli().run(args(repoArgs, "verify", id));
            assertThat(v.exitCode()).as(v.toString()).isZero();
            Path target = tmp.resolve("restore-" + points[i][1] + "-" + repoArgs.get(0).replace("-", ""));
            Cli.Result r = cli().run(args(repoArgs, "restore", id, "--target", target.toString()));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(restored(target)).as(points[i][1]).isEqualTo(trees.get(i));
            Path restoredDb = target.resolve(db.toString().substring(1));
            assertThat(markerRows(restoredDb)).as(points[i][1]).isEqualTo(i == 0 ? -1 : 1);
            if (root) {
                Path owned = target.resolve(media.get(2).toString().substring(1));
                assertThat(Files.getAttribute(owned, "unix:uid")).as(points[i][1]).isEqualTo(i == 2 ? 4321 : 0);
                assertThat(Files.getAttribute(owned, "unix:gid")).as(points[i][1]).isEqualTo(i == 2 ? 4322 : 0);
            }
        }
        assertThat(t3).doesNotContainKey(hs.relativize(media.get(0)).toString());
    }

    /**
     * A database whose files are, by stat, as when the parent's snapshot began is not copied at
     * all; a write that only reaches the -wal (no checkpoint yet) is still seen.
     */
    @Test
    void unchangedDatabaseFilesAreNotCopiedAndAWalOnlyWriteIsSeen() throws Exception {
        homeserver();
        Path repo = tmp.resolve("repo");
        List<String> repoArgs = List.of("--repo", repo.toString());
        Path db = hs.resolve("data/homeserver.db");
        // Times within the filesystem's resolution of a snapshot's start are not trusted: age the files.
        Await.treeOlderThan(db.getParent(), SqliteFileState.SLACK.plusMillis(500));
        JsonNode full = createJson(repoArgs);
        assertThat(full.get("database").asText()).isEqualTo("archived");

        JsonNode same = createJson(repoArgs);
        assertThat(same.get("database").asText()).isEqualTo("unchanged");
        assertThat(same.get("archived-files").asLong()).isEqualTo(3);
        String sameId = same.get("backup-id").asText();

        FileTime dbMtime = Files.getLastModifiedTime(db);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
            st.execute("PRAGMA wal_autocheckpoint=0");
            try (ResultSet rs = st.executeQuery("PRAGMA journal_mode")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("wal");
            }
            st.execute("CREATE TABLE incremental_marker (x TEXT)");
            st.execute("INSERT INTO incremental_marker VALUES ('only in the wal')");
            // The connection stays open: the commit lives in the -wal alone.
            assertThat(Files.getLastModifiedTime(db)).isEqualTo(dbMtime);
            JsonNode j = createJson(repoArgs);
            assertThat(j.get("database").asText()).isEqualTo("archived");
            assertThat(j.get("parent").asText()).isEqualTo(sameId);
            assertThat(j.get("archived-files").asLong()).isEqualTo(4); // keys, config and the database
            Path target = tmp.resolve("restore-wal");
            Cli.Result r = cli().run(args(repoArgs, "restore", j.get("backup-id").asText(), "--target", target.toString()));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(markerRows(target.resolve(db.toString().substring(1)))).isEqualTo(1);
        }
    }

    /** Rows of the marker table, -1 when the table does not exist. */
    private static int markerRows(Path db) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM sqlite_master WHERE name = 'incremental_marker'")) {
            rs.next();
            if (rs.getInt(1) == 0) {
                return -1;
            }
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM incremental_marker")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    @Test
    void localRepositoryChain() throws Exception {
        homeserver();
        scenario(List.of("--repo", tmp.resolve("repo").toString()));
    }

    @Test
    void s3Chain() throws Exception {
        homeserver();
        S3.createBucket("incremental");
        scenario(List.of("--bucket", "incremental", "--path", "chain", "--endpoint", S3.endpoint().toString(),
                "--s3-uri-style", "path"));
    }

    @Test
    void directoriesAreArchivedOnlyWhenChangedAndRestoreAsTheyWere() throws Exception {
        homeserver();
        Path lc = hs.resolve("data/media_store/local_content");
        List<Path> dirs;
        try (Stream<Path> s = Files.walk(lc, 1)) {
            dirs = s.filter(p -> !p.equals(lc) && Files.isDirectory(p)).sorted().toList();
        }
        assertThat(dirs).hasSizeGreaterThanOrEqualTo(4);
        Path untouched = dirs.get(0);
        Path chmodded = dirs.get(1);
        Path deleted = dirs.get(2);
        Path rewritten = dirs.get(3);
        Files.setPosixFilePermissions(untouched, PosixFilePermissions.fromString("rwxr-x---"));
        Files.setPosixFilePermissions(rewritten, PosixFilePermissions.fromString("rwxr-x--x"));
        Await.treeOlderThan(hs, Duration.ofSeconds(MediaDirectories.CTIME_SLACK_SECONDS + 1));
        Path repoDir = tmp.resolve("repo");
        List<String> repo = List.of("--repo", repoDir.toString());
        createJson(repo);

        Files.setPosixFilePermissions(chmodded, PosixFilePermissions.fromString("rwx------"));
        try (Stream<Path> s = Files.walk(deleted)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        Path inPlace;
        try (Stream<Path> s = Files.walk(rewritten)) {
            inPlace = s.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(inPlace.toFile(), "rw")) {
            f.write(new byte[] {1, 2, 3}); // same size, new content and mtime; the directory's ctime stays
        }
        Path empty = Files.createDirectories(lc.resolve("zz-empty"));
        String incId = createJson(repo).get("backup-id").asText();

        // the incremental object, opened with stock gpg and tar, holds only the directories that changed
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Procs.Result list = Procs.bash("gpg --batch --quiet --passphrase-file " + Procs.q(pass) + " --decrypt "
                + Procs.q(repoDir.resolve(incId)) + " | tar -tf -", Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(list.exitCode()).as(list.stderr()).isZero();
        String prefix = lc.toString().substring(1) + "/";
        List<String> archivedDirs = list.stdout().lines().filter(l -> l.endsWith("/") && l.startsWith(prefix))
                .map(l -> l.substring(prefix.length())).toList();
        // local_content itself changed: an entry was added and one removed
        assertThat(archivedDirs).containsExactlyInAnyOrder("", chmodded.getFileName() + "/",
                rewritten.getFileName() + "/", inPlace.getParent().equals(rewritten) ? rewritten.getFileName() + "/"
                        : lc.relativize(inPlace.getParent()) + "/", "zz-empty/")
                .doesNotContain(untouched.getFileName() + "/", deleted.getFileName() + "/");

        Map<String, String> expected = backedUp();
        Path target = tmp.resolve("target");
        Cli.Result r = cli().run(args(repo, "restore", incId, "--target", target.toString()));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(restored(target)).isEqualTo(expected);
        Path rlc = target.resolve(lc.toString().substring(1));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(rlc.resolve(untouched.getFileName()))))
                .isEqualTo("rwxr-x---");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(rlc.resolve(chmodded.getFileName()))))
                .isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(rlc.resolve(rewritten.getFileName()))))
                .isEqualTo("rwxr-x--x");
        assertThat(Files.getLastModifiedTime(rlc.resolve(untouched.getFileName())).toInstant())
                .isEqualTo(Files.getLastModifiedTime(untouched).toInstant().truncatedTo(java.time.temporal.ChronoUnit.MICROS));
        assertThat(rlc.resolve(deleted.getFileName())).doesNotExist();
        assertThat(rlc.resolve(empty.getFileName())).isEmptyDirectory();
    }

    @Test
    void fullFlagAndFullEvery() throws Exception {
        homeserver();
        List<String> repo = List.of("--repo", tmp.resolve("repo").toString());
        assertThat(createJson(repo).get("kind").asText()).isEqualTo("full");
        assertThat(createJson(repo).get("kind").asText()).isEqualTo("incremental");
        assertThat(createJson(repo, "--full").get("kind").asText()).isEqualTo("full");
        assertThat(createJson(repo, "--full-every", "0s").get("kind").asText()).isEqualTo("full");
        assertThat(createJson(repo, "--full-every", "7d").get("kind").asText()).isEqualTo("incremental");
    }

    @Test
    void missingOrCorruptParentObjectFailsVerifyNamingIt() throws Exception {
        homeserver();
        Path repoDir = tmp.resolve("repo");
        List<String> repo = List.of("--repo", repoDir.toString());
        String fullId = createJson(repo).get("backup-id").asText();
        Files.writeString(hs.resolve("data/media_store/local_content/new"), "x");
        String incId = createJson(repo).get("backup-id").asText();

        // corrupted parent object
        Path fullObject = repoDir.resolve(fullId);
        byte[] original = Files.readAllBytes(fullObject);
        byte[] bad = original.clone();
        bad[bad.length / 2] ^= 0x01;
        Files.write(fullObject, bad);
        Cli.Result v = cli().run(args(repo, "verify", incId));
        assertThat(v.exitCode()).as(v.toString()).isEqualTo(5);
        assertThat(v.stderr()).contains(fullId);

        // missing parent object
        Files.delete(fullObject);
        Cli.Result m = cli().run(args(repo, "verify", incId));
        assertThat(m.exitCode()).as(m.toString()).isEqualTo(5);
        assertThat(m.stderr()).contains(fullId).contains("missing");
        Map<String, String> before = Trees.fingerprint(hs);
        Path target = tmp.resolve("target");
        Cli.Result r = cli().run(args(repo, "restore", incId, "--target", target.toString()));
        assertThat(r.exitCode()).isEqualTo(5);
        assertThat(Trees.fingerprint(hs)).isEqualTo(before);

        // a later create cannot build on the broken chain: it makes a full backup, and says why
        Cli.Result c = cli().run(args(repo, "create"));
        assertThat(c.exitCode()).as(c.toString()).isZero();
        assertThat(c.stderr()).contains(fullId).contains("full backup");
    }

    @Test
    void printedChainProcedureReproducesTheLastPointInTime() throws Exception {
        homeserver();
        Path repoDir = tmp.resolve("repo");
        List<String> repo = List.of("--repo", repoDir.toString());
        createJson(repo);
        Files.writeString(hs.resolve("data/media_store/local_content/added"), "added later");
        List<Path> media = localMedia();
        Files.delete(media.get(media.size() - 1));
        String incId = createJson(repo).get("backup-id").asText();
        Map<String, String> expected = backedUp();
        Path target = tmp.resolve("stock");
        Cli.Result p = cli().run(args(repo, "restore", incId, "--print-command", "--target", target.toString()));
        assertThat(p.exitCode()).as(p.toString()).isZero();
        assertThat(p.stdout()).contains("is incremental").contains("rm -f -- ");
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Procs.Result r = Procs.bash(p.stdout(), Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(restored(target)).isEqualTo(expected);
        assertThat(new String(Files.readAllBytes(target.resolve(hs.toString().substring(1))
                .resolve("data/media_store/local_content/added")), StandardCharsets.UTF_8)).isEqualTo("added later");
    }
}
