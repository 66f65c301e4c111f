package dev.synapsebackup.backup;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.Trees;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** create → list → show → verify against a local repository, and stock gpg + tar on the result. */
@Tag("slow")
class LocalRoundTripTest {
    @TempDir
    Path tmp;

    Path hs;
    Path yaml;
    Path repo;
    Path pass;

    @BeforeEach
    void setUp() throws Exception {
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(40, 3_000_000));
        repo = tmp.resolve("repo");
        pass = tmp.resolve("passphrase");
        Files.writeString(pass, "correct horse battery staple\n");
        // Readable by its owner only, as a passphrase file should be (else every run warns).
        java.nio.file.Files.setPosixFilePermissions(pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    private String[] args(String... cmd) {
        String[] common = {"--synapse-config", yaml.toString(), "--repo", repo.toString(), "--passphrase-file", pass.toString()};
        String[] all = new String[cmd.length + common.length];
        System.arraycopy(cmd, 0, all, 0, cmd.length);
        System.arraycopy(common, 0, all, cmd.length, common.length);
        return all;
    }

    /** local_content on another disk, linked into the media store: backed up and restored through the link. */
    @Test
    void aSymlinkedMediaRootIsBackedUpAsTheDirectoryItPointsTo() throws Exception {
        Path lc = hs.resolve("data/media_store/local_content");
        Path elsewhere = Trees.moveBehindSymlink(lc, tmp.resolve("other-disk/local_content"));
        Map<String, String> before = Trees.fingerprint(elsewhere);
        assertThat(before).isNotEmpty();

        Cli.Result full = new Cli().run(args("create", "--quiet"));
        assertThat(full.exitCode()).as(full.toString()).isZero();
        Files.writeString(elsewhere.resolve("new-after-full"), "new media");
        Map<String, String> later = Trees.fingerprint(elsewhere);
        Cli.Result inc = new Cli().run(args("create", "--quiet"));
        assertThat(inc.exitCode()).as(inc.toString()).isZero();

        String[] ids = {full.lastLine(), inc.lastLine()};
        List<Map<String, String>> expected = List.of(before, later);
        for (int i = 0; i < ids.length; i++) {
            Path target = tmp.resolve("restored-" + i);
            Cli.Result r = new Cli().run(args("restore", ids[i], "--target", target.toString()));
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(Trees.fingerprint(target.resolve(lc.toString().substring(1)))).isEqualTo(expected.get(i));
        }
    }

    @Test
    void createListShowVerify() throws Exception {
        Cli.Result c = new Cli().run(args("create"));
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();
        assertThat(id).matches("backup-\\d{20}");

        Cli.Result l = new Cli().run(args("list"));
        assertThat(l.stdout()).contains(id).contains("complete");

        Cli.Result s = new Cli().run(args("show", id, "--json"));
        assertThat(s.exitCode()).as(s.toString()).isZero();
        JsonNode doc = new ObjectMapper().readTree(s.stdout());
        assertThat(doc.get("backup-id").asText()).isEqualTo(id);
        assertThat(doc.get("server-name").asText()).isEqualTo(SampleHomeserver.SERVER_NAME);
        assertThat(doc.get("kind").asText()).isEqualTo("full");
        assertThat(doc.get("database").get("quick-check").asText()).isEqualTo("ok");
        assertThat(doc.get("database").get("schema-version").asInt()).isPositive();
        // 40 local files + 10 thumbnails + config, log config, signing key, database; no remote media.
        assertThat(doc.get("files").asLong()).isEqualTo(54);
        assertThat(doc.get("directories").toString()).contains("\"path\":\"" + hs.resolve("data") + "\"");
        // the text form: the database facts as lines, not a map dump
        Cli.Result text = new Cli().run(args("show", id));
        assertThat(text.exitCode()).as(text.toString()).isZero();
        assertThat(text.stdout()).contains("database:     SQLite " + hs.resolve("data/homeserver.db") + "\n")
                .contains("  method:         sqlite-online-backup\n")
                .contains("  schema version: " + doc.get("database").get("schema-version").asInt() + "\n")
                .contains("  quick_check:    ok\n")
                .containsPattern("  size:           [0-9.]+ [KMG]?i?B \\([0-9]+ bytes\\)\n")
                .contains("directory:    " + hs.resolve("data") + " ")
                .doesNotContain("{");

        Cli.Result v = new Cli().run(args("verify", id));
        assertThat(v.exitCode()).as(v.toString()).isZero();
        assertThat(v.stdout()).startsWith("ok: " + id + ", 54 files");

        Cli.Result j = new Cli().run(args("create", "--json", "--quiet"));
        JsonNode cj = new ObjectMapper().readTree(j.stdout());
        assertThat(cj.get("backup-id").asText()).matches("backup-\\d{20}");
        assertThat(cj.get("files").asLong()).isEqualTo(54);
    }

    @Test
    void stockGpgAndTarReproduceEveryFile() throws Exception {
        String id = new Cli().run(args("create")).lastLine();
        Path out = Files.createDirectories(tmp.resolve("extracted"));
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Procs.Result r = Procs.bash("set -o pipefail; gpg --batch --quiet --decrypt --passphrase-file " + q(pass) + " < "
                + q(repo.resolve(id)) + " | tar -x -C " + q(out), Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stderr()).doesNotContain("tar:");

        Path restoredRoot = out.resolve(hs.toString().substring(1));
        Map<String, String> expected = Trees.fingerprint(hs);
        Map<String, String> actual = Trees.fingerprint(restoredRoot);
        // Everything backed up is reproduced byte for byte with mode and mtime; what is skipped is absent.
        Map<String, String> expectedFiles = new TreeMap<>();
        expected.forEach((k, v) -> {
            boolean skipped = k.contains("remote_") || k.contains("url_cache") || k.endsWith(".pid")
                    || k.endsWith("-wal") || k.endsWith("-shm") || k.equals("data/homeserver.db");
            if (!v.equals("dir") && !skipped) {
                expectedFiles.put(k, v);
            }
        });
        Map<String, String> actualFiles = new TreeMap<>(actual);
        actualFiles.values().removeIf("dir"::equals);
        actualFiles.remove("data/homeserver.db");
        assertThat(actualFiles).isEqualTo(expectedFiles);
        assertThat(out.resolve(".synapse-backup/manifest.json")).isRegularFile();

        // The database is a consistent snapshot with the live rows, in rollback-journal mode.
        Path db = restoredRoot.resolve("data/homeserver.db");
        assertThat(restoredRoot.resolve("data/homeserver.db-wal")).doesNotExist();
        try (Connection live = DriverManager.getConnection("jdbc:sqlite:" + hs.resolve("data/homeserver.db"));
             Connection copy = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            for (String table : new String[] {"users", "rooms", "events", "schema_version"}) {
                assertThat(count(copy, table)).as(table).isEqualTo(count(live, table));
            }
            try (Statement st = copy.createStatement(); ResultSet rs = st.executeQuery("PRAGMA quick_check")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("ok");
            }
        }
    }

    private static long count(Connection c, String table) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void wrongPassphraseIsExit5() throws Exception {
        String id = new Cli().run(args("create")).lastLine();
        Path wrong = tmp.resolve("wrong");
        Files.writeString(wrong, "not the passphrase\n");
        Cli.Result v = new Cli().run("verify", id, "--repo", repo.toString(), "--passphrase-file", wrong.toString());
        assertThat(v.exitCode()).as(v.toString()).isEqualTo(5);
        assertThat(v.stderr()).contains("wrong passphrase or corrupted backup");
        assertThat(v.stderr()).doesNotContain("not the passphrase");
    }

    @Test
    void oneFlippedByteIsExit5() throws Exception {
        String id = new Cli().run(args("create")).lastLine();
        Path object = repo.resolve(id);
        try (RandomAccessFile f = new RandomAccessFile(object.toFile(), "rw")) {
            long pos = f.length() / 2;
            f.seek(pos);
            int b = f.read();
            f.seek(pos);
            f.write(b ^ 0x01);
        }
        Cli.Result v = new Cli().run(args("verify", id));
        assertThat(v.exitCode()).as(v.toString()).isEqualTo(5);
    }

    @Test
    void missingIdIsExit4() {
        Cli.Result v = new Cli().run(args("verify", "backup-20200101000000000000"));
        assertThat(v.exitCode()).isEqualTo(4);
        assertThat(v.stderr()).isEqualTo("backup-id backup-20200101000000000000 does not exist\n");
        Cli.Result s = new Cli().run(args("show", "nope"));
        assertThat(s.exitCode()).isEqualTo(4);
    }

    @Test
    void noPassphraseIsExit2() {
        Cli.Result c = new Cli().run("create", "--synapse-config", yaml.toString(), "--repo", repo.toString());
        assertThat(c.exitCode()).isEqualTo(2);
        assertThat(c.stderr()).startsWith("Missing backup passphrase");
        assertThat(repo).doesNotExist();
    }

    @Test
    void charmStyleBackupIsListedAndVerifiedAsAWhole() throws Exception {
        Files.createDirectories(repo);
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        String id = "backup-20240101120000123456";
        // What the charm runs: tar -c | gpg --symmetric (gpg's defaults: compressed, its default S2K).
        Procs.Result r = Procs.bash("set -o pipefail; tar -c -C / " + q(hs.resolve("etc").toString().substring(1))
                + " | gpg --batch --symmetric --passphrase-file " + q(pass) + " > " + q(repo.resolve(id)),
                Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        Cli.Result l = new Cli().run(args("list"));
        assertThat(l.stdout()).contains(id).contains("foreign");
        Cli.Result v = new Cli().run(args("verify", id));
        assertThat(v.exitCode()).as(v.toString()).isZero();
        assertThat(v.stdout()).contains("no manifest").contains(id);
    }

    @Test
    void printCommandForLocalRepository() throws Exception {
        String id = new Cli().run(args("create")).lastLine();
        Path target = tmp.resolve("stock");
        Cli.Result p = new Cli().run(args("restore", id, "--print-command", "--target", target.toString()));
        assertThat(p.exitCode()).as(p.toString()).isZero();
        assertThat(p.stdout()).contains("cat " + repo.resolve(id) + " | gpg --batch --decrypt --passphrase-file " + pass
                + " | tar -x -C \"$partial\"").contains("target=" + target).contains("set -euo pipefail");
        // The printed procedure really works.
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Procs.Result r = Procs.bash(p.stdout(), Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(Trees.sha256(target.resolve(hs.toString().substring(1)).resolve("etc/homeserver.yaml")))
                .isEqualTo(Trees.sha256(yaml));
        assertThat(target.resolve(".synapse-backup")).doesNotExist();
    }

    @Test
    void sparseFileOver8GiBAndOddNamesRoundTrip() throws Exception {
        long free = Files.getFileStore(tmp).getUsableSpace();
        org.junit.jupiter.api.Assumptions.assumeTrue(free > 20L << 30, "needs 20 GiB free for the 8 GiB object");
        Path media = hs.resolve("data/media_store/local_content/zz/yy");
        Files.createDirectories(media);
        Path big = media.resolve("bigvideo");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength((8L << 30) + 4096);
            f.seek(f.length() - 5);
            f.write(new byte[] {1, 2, 3, 4, 5});
        }
        Path longDir = media.resolve("d".repeat(100));
        Files.createDirectories(longDir);
        Path longName = longDir.resolve("f".repeat(100));
        Files.writeString(longName, "long");
        Path unicode = media.resolve("médias-ünïcødé-日本");
        Files.writeString(unicode, "unicode");
        Cli.Result c = new Cli().run(args("create", "--quiet"));
        assertThat(c.exitCode()).as(c.toString()).isZero();
        String id = c.lastLine();
        Cli.Result v = new Cli().run(args("verify", id));
        assertThat(v.exitCode()).as(v.toString()).isZero();
        assertThat(v.stdout()).contains("57 files");
        assertThat(longName.toString().length() - hs.toString().length()).isGreaterThan(200);
    }
}
