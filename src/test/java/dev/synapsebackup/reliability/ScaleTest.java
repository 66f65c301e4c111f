package dev.synapsebackup.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.TmpfsTempDirs;
import dev.synapsebackup.testing.Trees;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scale: a 100,000-file media store backs up, verifies and restores in the real launcher with a
 * heap far too small to hold per-file state (flat memory); a repository of 10,000 backups lists
 * completely. How long each takes is measured by bench/scale.sh (the same tree), not here.
 */
@Tag("slow")
class ScaleTest {
    static final int FILES = 100_000;
    static final String HEAP = "48m";
    static final int BACKUPS = 10_000;

    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    // tmpfs: removing 300,000 files from the disk here took over 5 minutes on a loaded machine.
    @TempDir(factory = TmpfsTempDirs.class)
    Path tmp;

    private int runs;

    private String run(Path config, String... args) throws Exception {
        List<String> a = new java.util.ArrayList<>(List.of(args));
        a.addAll(List.of("--config", config.toString(), "--quiet"));
        Path logs = tmp.resolve("logs-" + (++runs));
        Path childTmp = Files.createDirectories(tmp.resolve("child-tmp"));
        Process p = Launcher.start(a, Map.of(), logs, HEAP, childTmp, "-XX:+ExitOnOutOfMemoryError");
        int exit = Launcher.await(p, 600);
        String err = Files.readString(logs.resolve("stderr"));
        assertThat(exit).as(String.join(" ", args) + " at -Xmx" + HEAP + ": " + err).isZero();
        return Files.readString(logs.resolve("stdout"));
    }

    @Test
    void hundredThousandFilesBackUpAndRestoreWithFlatMemory() throws Exception {
        Path hs = tmp.resolve("hs");
        Path yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(FILES, 40_000_000));
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, "scale passphrase\n");
        Path config = tmp.resolve("config.yaml");
        Files.writeString(config, "synapse-config: %s\nrepository: %s\npassphrase-file: %s\n"
                .formatted(yaml, tmp.resolve("repo"), pass));
        String id = run(config, "create").strip().lines().reduce((x, y) -> y).orElseThrow();
        assertThat(run(config, "verify", id)).startsWith("ok: " + id);
        Path target = Files.createDirectories(tmp.resolve("target"));
        run(config, "restore", id, "--target", target.toString());
        Path content = hs.resolve("data/media_store/local_content");
        Path restored = target.resolve(content.toString().substring(1));
        long files;
        try (Stream<Path> s = Files.walk(restored)) {
            files = s.filter(Files::isRegularFile).count();
        }
        assertThat(files).isEqualTo(FILES);
        // Byte for byte (GNU diff: far faster than hashing 200,000 files here).
        Procs.Result diff = Procs.bash("diff -r " + Procs.q(content) + " " + Procs.q(restored), Map.of(), null);
        assertThat(diff.exitCode()).as(diff.stdout() + diff.stderr()).isZero();
        assertThat(Trees.fingerprint(restored.resolve(first(restored)))).isEqualTo(Trees.fingerprint(content.resolve(first(restored))));
        // JUnit's own clean-up of 300,000 files is slow; rm is not.
        Procs.bash("rm -rf " + Procs.q(hs) + " " + Procs.q(target) + " " + Procs.q(tmp.resolve("repo")), Map.of(), null);
    }

    private static Path first(Path dir) throws java.io.IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return dir.relativize(s.sorted().findFirst().orElseThrow());
        }
    }

    @Test
    void tenThousandBackupsListCompletely() throws Exception {
        S3.createBucket("many");
        DateTimeFormatter f = DateTimeFormatter.ofPattern("yyyyMMddHHmmssSSSSSS");
        LocalDateTime t = LocalDateTime.of(2025, 1, 1, 0, 0);
        for (int i = 0; i < BACKUPS; i++) {
            String id = "backup-" + f.format(t.plusHours(i));
            S3.putObject("many", "prod/" + id, new byte[100], Map.of("synapse-backup-format", "1",
                    "synapse-backup-kind", i % 7 == 0 ? "full" : "incremental"));
            S3.putObject("many", "prod/" + id + ".manifest", new byte[50], Map.of());
        }
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, "x\n");
        Cli cli = new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
        String[] args = {"list", "--json", "--bucket", "many", "--path", "/prod", "--endpoint", S3.endpoint().toString(),
            "--s3-uri-style", "path", "--passphrase-file", pass.toString()};
        Cli.Result r = cli.run(args);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        JsonNode backups = new ObjectMapper().readTree(r.stdout()).get("backups");
        assertThat(backups.size()).isEqualTo(BACKUPS);
    }
}
