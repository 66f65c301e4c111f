package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.GpgKeys;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC §7, public-key encryption: a host configured with public keys only makes full and
 * incremental backups without any secret; another machine opens them with the secret key, and so
 * does stock gpg.
 */
class PublicKeyCliTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    private static final String KEY_PASS = "the key's own passphrase";

    @TempDir
    static Path keys;
    static GpgKeys rsa;
    static GpgKeys cv;
    static GpgKeys stranger;

    @TempDir
    Path dir;
    Path yaml;
    Path hs;
    Path repo;
    Path state;
    Path config;
    Path identityPass;

    @BeforeAll
    static void makeKeys() throws Exception {
        rsa = new GpgKeys(keys, "rsa", GpgKeys.Kind.RSA, "");
        cv = new GpgKeys(keys, "cv", GpgKeys.Kind.CV25519, KEY_PASS);
        stranger = new GpgKeys(keys, "stranger", GpgKeys.Kind.CV25519, "");
    }

    @AfterAll
    static void killAgents() {
        Stream.of(rsa, cv, stranger).filter(k -> k != null).forEach(GpgKeys::close);
    }

    @BeforeEach
    void setUp() throws Exception {
        hs = dir.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(3, 30_000));
        repo = dir.resolve("repo");
        state = dir.resolve("state/synapse-backup");
        config = dir.resolve("config.yaml");
        Files.writeString(config, "repository: " + repo + "\nsynapse-config: " + yaml + "\nstate-directory: " + state
                + "\nencryption:\n  recipients:\n    - " + rsa.publicKey + "\n    - " + cv.publicKey + "\n");
        identityPass = Files.writeString(dir.resolve("identity-pass"), KEY_PASS + "\n");
    }

    /** No passphrase anywhere, and no terminal to prompt on. */
    private Cli.Result run(String... args) {
        List<String> a = new ArrayList<>(Arrays.asList(args));
        a.addAll(List.of("--config", config.toString()));
        return new Cli().env(BaseCommand.IDENTITY_PASSPHRASE_FILE, identityPass.toString()).run(a.toArray(String[]::new));
    }

    private JsonNode create(String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("create", "--json"));
        a.addAll(Arrays.asList(extra));
        Cli.Result r = run(a.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return new ObjectMapper().readTree(r.stdout());
    }

    /** The tar entries of a data object, as stock gpg with {@code key} imported and GNU tar list them. */
    private static List<String> entries(GpgKeys key, Path object) {
        Procs.Result r = Procs.bash("gpg --batch --pinentry-mode loopback --passphrase-file " + Procs.q(key.passFile)
                + " --decrypt " + Procs.q(object) + " | tar -t", key.env(), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        return List.of(r.stdout().split("\n"));
    }

    private static List<String> mediaFiles(List<String> entries) {
        return entries.stream().filter(e -> e.contains("media_store/local_content/") && !e.endsWith("/")).toList();
    }

    @Test
    void hostWithOnlyPublicKeysMakesFullAndIncrementalBackupsThatTheSecretKeyOpens() throws Exception {
        JsonNode full = create();
        assertThat(full.get("kind").asText()).isEqualTo("full");
        String fullId = full.get("backup-id").asText();
        // The host keeps the manifest for the next run: private to it.
        assertThat(Files.getPosixFilePermissions(state)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
        try (Stream<Path> s = Files.list(state)) {
            List<Path> kept = s.toList();
            assertThat(kept).hasSize(2).anyMatch(p -> p.getFileName().toString().endsWith(fullId + ".manifest.json"));
            for (Path p : kept) {
                assertThat(Files.getPosixFilePermissions(p)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            }
        }

        Path newMedia = hs.resolve("data/media_store/local_content/zz/yy/newmedia");
        Files.createDirectories(newMedia.getParent());
        Files.writeString(newMedia, "media after the full backup");
        JsonNode inc = create();
        String incId = inc.get("backup-id").asText();
        assertThat(inc.get("kind").asText()).isEqualTo("incremental");
        assertThat(inc.get("parent").asText()).isEqualTo(fullId);
        assertThat(inc.get("files").asLong()).isEqualTo(full.get("files").asLong() + 1);

        // Stock gpg opens both, with either secret key; the incremental holds only the new media file.
        assertThat(mediaFiles(entries(rsa, repo.resolve(fullId)))).hasSize(3);
        List<String> incEntries = entries(cv, repo.resolve(incId));
        assertThat(mediaFiles(incEntries)).containsExactly(Path.of("/").relativize(newMedia).toString());
        Procs.Result manifest = rsa.gpg("--decrypt", repo.resolve(BackupId.manifestKey(incId)).toString());
        assertThat(manifest.exitCode()).as(manifest.stderr()).isZero();
        assertThat(new ObjectMapper().readTree(manifest.stdoutBytes()).get("backup-id").asText()).isEqualTo(incId);

        // list and prune need no secret
        Cli.Result list = run("list");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.stdout()).contains(fullId).contains(incId);
        Cli.Result prune = run("prune", "--keep-last", "1", "--dry-run");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        assertThat(prune.stdout()).contains("needed by " + incId).contains("would remove 0 of 2");
        Cli.Result delete = run("delete", fullId);
        assertThat(delete.exitCode()).as(delete.toString()).isEqualTo(1);
        assertThat(delete.stderr()).contains(incId);
        assertThat(repo.resolve(fullId)).exists();

        // commands that decrypt say what they need
        Cli.Result noIdentity = run("verify", incId);
        assertThat(noIdentity.exitCode()).as(noIdentity.toString()).isEqualTo(2);
        assertThat(noIdentity.stderr()).contains("--identity");

        // verify, show and restore with the secret key: armored unprotected, binary with a passphrase
        Cli.Result verify = run("verify", incId, "--identity", rsa.secretKeyArmored.toString());
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        assertThat(verify.stdout()).startsWith("ok");
        Cli.Result show = run("show", incId, "--identity", cv.secretKeyBinary.toString());
        assertThat(show.exitCode()).as(show.toString()).isZero();
        assertThat(show.stdout()).contains(fullId);
        Path target = dir.resolve("restored");
        Cli.Result restore = run("restore", incId, "--target", target.toString(), "--identity", cv.secretKeyArmored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(target.resolve(Path.of("/").relativize(newMedia))).hasContent("media after the full backup");

        // the stock-tools script: no passphrase file, the secret key imported into gpg
        Cli.Result print = run("restore", incId, "--print-command", "--target", dir.resolve("stock").toString(),
                "--identity", rsa.secretKeyArmored.toString());
        assertThat(print.exitCode()).as(print.toString()).isZero();
        assertThat(print.stdout()).contains("gpg --batch --decrypt |").contains("gpg --import")
                .doesNotContain("--passphrase-file").contains("set -euo pipefail");
        Procs.Result script = Procs.bash(print.stdout(), rsa.env(), null);
        assertThat(script.exitCode()).as(script.stderr()).isZero();
        assertThat(dir.resolve("stock").resolve(Path.of("/").relativize(newMedia))).hasContent("media after the full backup");
    }

    @Test
    void wrongIdentityOrItsWrongPassphraseIsExit5AndWritesNothing() throws Exception {
        String id = create().get("backup-id").asText();
        Path target = dir.resolve("target");
        Cli.Result wrong = run("restore", id, "--target", target.toString(), "--identity", stranger.secretKeyArmored.toString());
        assertThat(wrong.exitCode()).as(wrong.toString()).isEqualTo(5);
        assertThat(wrong.stderr()).contains("the identity does not open this backup");
        assertThat(target).doesNotExist();
        Cli.Result verify = run("verify", id, "--identity", stranger.secretKeyBinary.toString());
        assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);

        Files.writeString(identityPass, "not the key's passphrase\n");
        Cli.Result badPass = run("restore", id, "--target", target.toString(), "--identity", cv.secretKeyArmored.toString());
        assertThat(badPass.exitCode()).as(badPass.toString()).isEqualTo(5);
        assertThat(badPass.stderr()).contains("wrong passphrase for the identity " + cv.secretKeyArmored);
        assertThat(target).doesNotExist();

        Cli.Result publicOnly = run("verify", id, "--identity", cv.publicKey.toString());
        assertThat(publicOnly.exitCode()).as(publicOnly.toString()).isEqualTo(2);
        assertThat(publicOnly.stderr()).contains("is a public key");
    }

    @Test
    void anIdentityOrItsPassphraseFileReadableByOthersIsWarnedAbout() throws Exception {
        String id = create().get("backup-id").asText();
        Path identity = Files.copy(cv.secretKeyArmored, dir.resolve("identity.asc"));
        Files.setPosixFilePermissions(identity, PosixFilePermissions.fromString("rw-r--r--"));
        Files.setPosixFilePermissions(identityPass, PosixFilePermissions.fromString("rw-r-----"));
        Cli.Result open = run("verify", id, "--identity", identity.toString());
        assertThat(open.exitCode()).as(open.toString()).isZero();
        assertThat(open.stderr()).contains(identity + " holds the secret key that opens the backups and is readable by"
                + " its group and others (mode rw-r--r--): make it readable by its owner only (chmod 600 " + identity + ")")
                .contains(identityPass + " holds the passphrase of the identity and is readable by its group (mode rw-r-----)");
        Files.setPosixFilePermissions(identity, PosixFilePermissions.fromString("rw-------"));
        Files.setPosixFilePermissions(identityPass, PosixFilePermissions.fromString("rw-------"));
        Cli.Result quiet = run("verify", id, "--identity", identity.toString());
        assertThat(quiet.exitCode()).as(quiet.toString()).isZero();
        assertThat(quiet.stderr()).doesNotContain("readable by");
    }

    @Test
    void lostOrStaleStateMeansAFullBackupWithAWarning() throws Exception {
        String first = create().get("backup-id").asText();
        try (Stream<Path> s = Files.list(state)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(state);
        Cli.Result lost = run("create", "--json");
        assertThat(lost.exitCode()).as(lost.toString()).isZero();
        assertThat(new ObjectMapper().readTree(lost.stdout()).get("kind").asText()).isEqualTo("full");
        assertThat(lost.stderr()).contains("no state for " + repo).contains("making a full backup");

        // state kept, but the repository's newest manifest is not the one recorded
        String second = new ObjectMapper().readTree(lost.stdout()).get("backup-id").asText();
        Path manifest = repo.resolve(BackupId.manifestKey(second));
        Files.write(manifest, Files.readAllBytes(repo.resolve(BackupId.manifestKey(first))));
        Cli.Result swapped = run("create", "--json");
        assertThat(swapped.exitCode()).as(swapped.toString()).isZero();
        assertThat(new ObjectMapper().readTree(swapped.stdout()).get("kind").asText()).isEqualTo("full");
        assertThat(swapped.stderr()).contains("is not the one this host wrote");

        // and with matching state, the next one is incremental again
        JsonNode next = create();
        assertThat(next.get("kind").asText()).isEqualTo("incremental");
    }

    @Test
    void oneRepositoryUsesOneScheme() throws Exception {
        Path pass = Files.writeString(dir.resolve("passphrase"), "a passphrase\n");
        Cli.Result both = run("check", "--passphrase-file", pass.toString());
        assertThat(both.exitCode()).as(both.toString()).isEqualTo(2);
        assertThat(both.stderr()).contains("encryption.recipients").contains(pass.toString()).contains("one scheme");

        // a passphrase repository, then a recipients configuration
        Cli.Result symmetric = new Cli().run("create", "--repo", repo.toString(), "--synapse-config", yaml.toString(),
                "--passphrase-file", pass.toString());
        assertThat(symmetric.exitCode()).as(symmetric.toString()).isZero();
        Cli.Result refused = run("create");
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(5);
        assertThat(refused.stderr()).contains("is encrypted with a passphrase, not to public keys").contains("--new-passphrase");
        Cli.Result check = run("check");
        assertThat(check.exitCode()).as(check.toString()).isEqualTo(5);

        JsonNode switched = create("--new-passphrase");
        assertThat(switched.get("kind").asText()).isEqualTo("full");
        Cli.Result active = run("check");
        assertThat(active.exitCode()).as(active.toString()).isZero();
        assertThat(active.stdout()).isEqualTo("active\n");
        assertThat(active.stderr()).contains(rsa.fingerprint).contains(cv.fingerprint);

        // and back: the passphrase configuration refuses the public-key chain
        Cli.Result back = new Cli().run("create", "--repo", repo.toString(), "--synapse-config", yaml.toString(),
                "--passphrase-file", pass.toString());
        assertThat(back.exitCode()).as(back.toString()).isEqualTo(5);
        assertThat(back.stderr()).contains("encrypted to public keys").contains("--new-passphrase");
    }

    @Test
    void s3RepositoryWithPublicKeysOnly() throws Exception {
        S3.createBucket("pubkey");
        Files.writeString(config, "synapse-config: " + yaml + "\nstate-directory: " + state
                + "\ns3:\n  bucket: pubkey\n  path: /host/one/\n  endpoint: " + S3.endpoint() + "\n  s3-uri-style: path"
                + "\n  access-key: " + S3ProxyServer.ACCESS_KEY + "\n  secret-key: " + S3ProxyServer.SECRET_KEY
                + "\nencryption:\n  recipients: " + cv.publicKey + "\n");
        String fullId = create().get("backup-id").asText();
        Path newMedia = hs.resolve("data/media_store/local_content/zz/yy/s3media");
        Files.createDirectories(newMedia.getParent());
        Files.writeString(newMedia, "new media in S3");
        JsonNode inc = create();
        assertThat(inc.get("kind").asText()).isEqualTo("incremental");
        assertThat(inc.get("parent").asText()).isEqualTo(fullId);
        String incId = inc.get("backup-id").asText();
        Cli.Result verify = run("verify", incId, "--identity", cv.secretKeyBinary.toString());
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        Path target = dir.resolve("from-s3");
        Cli.Result restore = run("restore", incId, "--target", target.toString(), "--identity", cv.secretKeyArmored.toString());
        assertThat(restore.exitCode()).as(restore.toString()).isZero();
        assertThat(target.resolve(Path.of("/").relativize(newMedia))).hasContent("new media in S3");
    }
}
