package dev.synapsebackup.restore;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.Trees;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The printed {@code restore --print-command} procedure run for real, with the aws CLI, gpg and
 * GNU tar against S3 (S3Proxy on loopback): it must stop with a non-zero exit on a tampered
 * object, leave nothing behind that looks restored, never touch {@code ~/.aws/config}, and on
 * intact objects reproduce exactly what the tool's own {@code --target} restore gives.
 */
class StockScriptTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.onFilesystem();

    @TempDir
    Path tmp;

    private Cli cli() {
        return new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
    }

    private String[] args(Path yaml, String... cmd) {
        List<String> a = new ArrayList<>(List.of(cmd));
        a.addAll(List.of("--bucket", "stock", "--path", "prod", "--endpoint", S3.endpoint().toString(),
                "--s3-uri-style", "path", "--synapse-config", yaml.toString(), "--passphrase-file",
                tmp.resolve("passphrase").toString()));
        return a.toArray(String[]::new);
    }

    /** The file S3Proxy's filesystem store keeps an object's bytes in. */
    private Path storedObject(String key) throws Exception {
        Path base = S3.basedir().orElseThrow();
        try (Stream<Path> s = Files.walk(base)) {
            return s.filter(Files::isRegularFile).filter(p -> p.endsWith(Path.of("stock", key))).findFirst().orElseThrow();
        }
    }

    @Test
    void printedScriptFailsLoudlyOnATamperedObjectAndRestoresAnIntactChain() throws Exception {
        Assumptions.assumeTrue(Procs.bash("command -v aws", Map.of(), null).exitCode() == 0,
                "aws CLI not installed (bin/install-deps --test installs it)");
        S3.createBucket("stock");
        Files.writeString(tmp.resolve("passphrase"), "stock script passphrase\n");
        Path hs = tmp.resolve("hs");
        Path yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(16, 3_000_000));
        Files.setPosixFilePermissions(hs.resolve("data"), PosixFilePermissions.fromString("rwxr-x---"));
        Files.setPosixFilePermissions(hs.resolve("data/media_store"), PosixFilePermissions.fromString("rwx--x---"));
        Files.setPosixFilePermissions(hs.resolve("etc"), PosixFilePermissions.fromString("rwx--x--x"));
        Cli.Result full = cli().run(args(yaml, "create", "--quiet"));
        assertThat(full.exitCode()).as(full.toString()).isZero();
        String fullId = full.lastLine();

        // Media deleted after the full backup, directories and all (as a purge does), and media added.
        Path lc = hs.resolve("data/media_store/local_content");
        Path gone;
        try (Stream<Path> s = Files.list(lc)) {
            gone = s.filter(Files::isDirectory).sorted().findFirst().orElseThrow();
        }
        Procs.bash("rm -rf " + q(gone), Map.of(), null);
        Files.createDirectories(lc.resolve("zz/zz"));
        Files.writeString(lc.resolve("zz/zz/added"), "uploaded after the full backup");
        Cli.Result inc = cli().run(args(yaml, "create", "--json"));
        assertThat(inc.exitCode()).as(inc.toString()).isZero();
        var incJson = new ObjectMapper().readTree(inc.stdout());
        assertThat(incJson.get("kind").asText()).isEqualTo("incremental");
        String incId = incJson.get("backup-id").asText();

        // What the tool's own restore gives: the reference.
        Path reference = tmp.resolve("reference");
        Cli.Result ref = cli().run(args(yaml, "restore", incId, "--target", reference.toString()));
        assertThat(ref.exitCode()).as(ref.toString()).isZero();
        Map<String, String> expected = new TreeMap<>(Trees.fingerprint(reference));
        expected.keySet().removeIf(k -> k.startsWith(".synapse-backup"));
        String goneEntry = gone.toString().substring(1);
        assertThat(expected).doesNotContainKey(goneEntry).containsKey(goneEntry.substring(0, goneEntry.lastIndexOf('/')));

        Path target = tmp.resolve("stock-restore");
        Cli.Result p = cli().run(args(yaml, "restore", incId, "--print-command", "--target", target.toString()));
        assertThat(p.exitCode()).as(p.toString()).isZero();
        assertThat(p.stdout()).contains("set -euo pipefail").doesNotContain("aws configure")
                .doesNotContain(S3ProxyServer.SECRET_KEY).contains("is incremental");
        String script = p.stdout().replace("'<secret-key>'", q(S3ProxyServer.SECRET_KEY));

        // A temporary HOME with an aws config of its own, which the script must leave alone.
        Path home = Files.createDirectories(tmp.resolve("home"));
        Path awsConfig = Files.createDirectories(home.resolve(".aws")).resolve("config");
        String userConfig = "[default]\nregion = eu-central-1\noutput = json\n";
        Files.writeString(awsConfig, userConfig);
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Map<String, String> env = Map.of("HOME", home.toString(), "GNUPGHOME", gnupg.toString());

        // One byte flipped in the middle of the full object, which holds most of the incremental's files.
        Path stored = storedObject("prod/" + fullId);
        byte[] original = Files.readAllBytes(stored);
        try (RandomAccessFile f = new RandomAccessFile(stored.toFile(), "rw")) {
            long pos = f.length() / 2;
            f.seek(pos);
            int b = f.read();
            f.seek(pos);
            f.write(b ^ 0x04);
        }
        Procs.Result tampered = Procs.bash(script, env, null);
        assertThat(tampered.exitCode()).as(tampered.stderr()).isNotZero();
        assertThat(tampered.stderr()).contains("FAILED").contains("manipulated");
        assertThat(target).doesNotExist();
        assertThat(tmp.resolve("stock-restore.partial")).doesNotExist();
        assertThat(Files.readString(awsConfig)).isEqualTo(userConfig);

        // an attempt's leftovers are never taken for its own, nor removed
        Path leftover = Files.createDirectories(tmp.resolve("stock-restore.partial"));
        Procs.Result refused = Procs.bash(script, env, null);
        assertThat(refused.exitCode()).isNotZero();
        assertThat(refused.stderr()).contains("exists (left by an earlier attempt?)");
        assertThat(leftover).isDirectory();
        Files.delete(leftover);

        Files.write(stored, original);
        Procs.Result ok = Procs.bash(script, env, null);
        assertThat(ok.exitCode()).as(ok.stderr()).isZero();
        assertThat(ok.stdout()).contains("restored " + incId + " into " + target);
        assertThat(Trees.fingerprint(target)).isEqualTo(expected);
        assertThat(new String(Files.readAllBytes(target.resolve(lc.toString().substring(1)).resolve("zz/zz/added")),
                StandardCharsets.UTF_8)).isEqualTo("uploaded after the full backup");
        // the directories above the roots come out with the owner and mode they had
        for (String dir : List.of("data", "data/media_store", "etc")) {
            assertThat(attrs(target.resolve(hs.resolve(dir).toString().substring(1)))).as(dir).isEqualTo(attrs(hs.resolve(dir)));
            assertThat(attrs(reference.resolve(hs.resolve(dir).toString().substring(1)))).as(dir).isEqualTo(attrs(hs.resolve(dir)));
        }
        assertThat(Files.readString(awsConfig)).isEqualTo(userConfig);
        try (Stream<Path> s = Files.list(home.resolve(".aws"))) {
            assertThat(s.toList()).containsExactly(awsConfig);
        }
    }

    private static String attrs(Path p) throws Exception {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
        return Integer.toOctalString((Integer) a.get("mode") & 07777) + " " + a.get("uid") + ":" + a.get("gid");
    }
}
