package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.Identity;
import dev.synapsebackup.crypto.MessageKeys;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.crypto.Recipients;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.MediaObject;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.restore.BackupVerifier;
import dev.synapsebackup.restore.MediaRestore;
import dev.synapsebackup.restore.VerifyResult;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.testing.GpgKeys;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.S3MediaFixtures;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code media-encryption}: S3-held media streamed through the host (even on the repository's
 * endpoint) and stored as OpenPGP messages that stock gpg opens, under the passphrase or to
 * public keys; restore and verify decrypt them; an incremental reuses only copies encrypted alike.
 */
@Tag("slow")
class S3MediaEncryptionTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    private static final int SMALL = 12; // a passphrase key is derived per copy: few objects keep it short
    private static final long MIB = 1024 * 1024;
    private static final Secret PASS = Secret.of("media passphrase");

    @TempDir
    static Path tmp;
    static Path work;

    @BeforeAll
    static void setUp() throws IOException {
        work = Files.createDirectories(tmp.resolve("work"));
    }

    private static Path homeserver(String name, String bucket) throws IOException {
        return S3MediaFixtures.homeserver(tmp.resolve(name), S3.endpoint().toString(), bucket, "");
    }

    /** Small objects and one of 7 MiB; returns the bytes by key. */
    private static Map<String, byte[]> fillMedia(String bucket) {
        S3.createBucket(bucket);
        Map<String, byte[]> media = new HashMap<>();
        Random r = new Random(11);
        for (int i = 0; i < SMALL; i++) {
            byte[] b = new byte[1 + r.nextInt(3000)];
            r.nextBytes(b);
            media.put(String.format("synapse/local_content/%02x/aa/media%03d", i, i), b);
        }
        byte[] large = new byte[(int) (7 * MIB)];
        r.nextBytes(large);
        media.put("synapse/local_content/zz/large", large);
        media.forEach((k, b) -> S3.putObject(bucket, k, b, Map.of()));
        return media;
    }

    private static CreateResult create(Repository repo, Path yaml, CreateOptions options, boolean encrypt)
            throws IOException {
        return new BackupCreator(repo, HomeserverConfig.load(List.of(yaml)), options, Clock.systemUTC())
                .mediaCopy(4, 6 * MIB).mediaEncryption(encrypt).create();
    }

    private static List<MediaObject> records(Repository repo, String id, Opener opener) throws IOException {
        return S3MediaFixtures.mediaRecords(repo, id, opener, work);
    }

    private static byte[] stored(Repository repo, MediaObject m) throws IOException {
        try (InputStream in = repo.open(m.repositoryKey())) {
            return in.readAllBytes();
        }
    }

    @Test
    void passphraseCopiesAreOpenPgpMessagesRestoredVerifiedAndReused() throws Exception {
        Map<String, byte[]> media = fillMedia("media-p");
        Path yaml = homeserver("hs-p", "media-p");
        CreateOptions options = new CreateOptions(PASS, false, work, null);
        S3.createBucket("backups-p");
        try (S3Repository repo = S3Repository.builder(S3.parameters("backups-p").path("prod").build()).build()) {
            CreateResult full = create(repo, yaml, options, true);
            // Same endpoint, yet nothing server-side: the host must see the bytes to encrypt them.
            assertThat(full.media().serverSide()).isZero();
            assertThat(full.media().streamed()).isEqualTo(SMALL + 1);
            String id = full.backupId();
            List<MediaObject> records = records(repo, id, Opener.passphrase(PASS));
            assertThat(records).hasSize(SMALL + 1).allSatisfy(m -> {
                assertThat(m.encrypted()).isTrue();
                assertThat(m.sha256()).hasSize(64);
                assertThat(m.size()).isEqualTo(media.get(m.key()).length);
                byte[] copy = stored(repo, m);
                assertThat(copy.length).isEqualTo(m.storedSize()).isGreaterThan((int) m.size());
                assertThat(copy[0] & 0x80).isNotZero(); // an OpenPGP packet header, not the plaintext
                MessageKeys keys = MessageKeys.of(new java.io.ByteArrayInputStream(copy));
                assertThat(keys.passphrase()).isTrue();
                assertThat(keys.keyIds()).isEmpty();
            });
            // Each copy has its own salt and session key: no two SKESKs alike.
            assertThat(records.stream().map(m -> {
                try {
                    return new String(stored(repo, m), 0, 40, StandardCharsets.ISO_8859_1);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).distinct()).hasSize(SMALL + 1);

            // Stock gpg opens one with the passphrase.
            MediaObject first = records.get(0);
            Path copyFile = Files.write(tmp.resolve("copy.gpg"), stored(repo, first));
            try (Procs.Gpg gpg = new Procs.Gpg(Files.createDirectories(tmp.resolve("gpg-p")), "media passphrase")) {
                Procs.Result r = gpg.run(null, "--decrypt", copyFile.toString());
                assertThat(r.exitCode()).as(r.stderr()).isZero();
                assertThat(r.stdoutBytes()).isEqualTo(media.get(first.key()));
            }

            VerifyResult v = new BackupVerifier(repo).verify(id, PASS, work, Progress.NONE, true);
            assertThat(v.ok()).as(v.problems().toString()).isTrue();
            assertThat(v.mediaHashed()).isEqualTo(SMALL + 1);

            Path manifest = BackupReader.fetchManifest(repo, id, PASS, Files.createTempDirectory(work, "r"));
            Path target = tmp.resolve("target-p");
            MediaRestore.Result files = MediaRestore.toTarget(repo, manifest, target, Opener.passphrase(PASS),
                    Progress.NONE);
            assertThat(files.written()).isEqualTo(SMALL + 1);
            media.forEach((k, b) -> assertThat(target.resolve("s3-media/media-p/" + k)).hasBinaryContent(b));

            // Live: two objects lost are put back decrypted.
            String lostKey = "synapse/local_content/03/aa/media003";
            S3.blobStore().removeBlob("media-p", lostKey);
            S3.blobStore().removeBlob("media-p", "synapse/local_content/zz/large");
            MediaRestore.Result live = MediaRestore.toLive(repo, manifest, Manifest.readSummary(manifest).media(),
                    HomeserverConfig.load(List.of(yaml)).s3MediaProviders(), Opener.passphrase(PASS), Progress.NONE);
            assertThat(live.written()).isEqualTo(2);
            assertThat(S3.blobStore().getBlob("media-p", lostKey).readAllBytes())
                    .isEqualTo(media.get(lostKey));
            assertThat(S3.blobStore().getBlob("media-p", "synapse/local_content/zz/large")
                    .readAllBytes()).isEqualTo(media.get("synapse/local_content/zz/large"));

            // A tampered copy: verify reports it, and it never reaches the live bucket.
            MediaObject victim = records.stream().filter(m -> m.key().equals(lostKey)).findFirst().orElseThrow();
            byte[] bad = stored(repo, victim);
            bad[bad.length - 5] ^= 1;
            repo.deleteObject(victim.repositoryKey());
            try (var w = repo.create(victim.repositoryKey(), bad.length, Map.of())) {
                w.write(bad);
                w.commit();
            }
            VerifyResult broken = new BackupVerifier(repo).verify(id, PASS, work, Progress.NONE, true);
            assertThat(broken.ok()).isFalse();
            assertThat(broken.problems()).anySatisfy(p -> assertThat(p).contains("media003"));
            S3.blobStore().removeBlob("media-p", lostKey);
            assertThatThrownBy(() -> MediaRestore.toLive(repo, manifest, Manifest.readSummary(manifest).media(),
                    HomeserverConfig.load(List.of(yaml)).s3MediaProviders(), Opener.passphrase(PASS), Progress.NONE))
                    .isInstanceOf(dev.synapsebackup.IntegrityException.class);
            assertThat(S3.blobStore().blobExists("media-p", lostKey)).isFalse();
            try (var w = repo.create(victim.repositoryKey(), bad.length, Map.of())) {
                bad[bad.length - 5] ^= 1;
                w.write(bad);
                w.commit();
            }
            S3.putObject("media-p", lostKey, media.get(lostKey), Map.of());

            // Incremental: one object replaced; the others' encrypted copies are reused.
            String changed = "synapse/local_content/05/aa/media005";
            S3.putObject("media-p", changed, new byte[] {5, 5, 5}, Map.of());
            CreateResult inc = create(repo, yaml, options, true);
            assertThat(inc.media().streamed()).isEqualTo(1);
            List<MediaObject> after = records(repo, inc.backupId(), Opener.passphrase(PASS));
            assertThat(after).hasSize(SMALL + 1).allSatisfy(m -> assertThat(m.encrypted()).isTrue());
            assertThat(after).filteredOn(m -> m.backup().equals(inc.backupId())).extracting(MediaObject::key)
                    .containsExactly(changed);
            VerifyResult v2 = new BackupVerifier(repo).verify(inc.backupId(), PASS, work, Progress.NONE, true);
            assertThat(v2.ok()).as(v2.problems().toString()).isTrue();

            // Option off again: encrypted copies are not reused, everything is copied (server-side) as it is.
            CreateResult plain = create(repo, yaml, options, false);
            assertThat(plain.media().serverSide()).isEqualTo(SMALL + 1);
            assertThat(records(repo, plain.backupId(), Opener.passphrase(PASS)))
                    .allSatisfy(m -> assertThat(m.encrypted()).isFalse());
            // And on once more: copied again, encrypted.
            CreateResult again = create(repo, yaml, options, true);
            assertThat(again.media().streamed()).isEqualTo(SMALL + 1);
        }
    }

    @Test
    void publicKeyCopiesOpenWithTheSecretKey() throws Exception {
        Map<String, byte[]> media = fillMedia("media-k");
        Path yaml = homeserver("hs-k", "media-k");
        try (GpgKeys key = new GpgKeys(tmp, "rsa", GpgKeys.Kind.RSA, "")) {
            Recipients to = Recipients.load(List.of(key.publicKey), "encryption.recipients");
            Identity identity = Identity.load(key.secretKeyBinary, () -> {
                throw new AssertionError("an unprotected key needs no passphrase");
            });
            CreateOptions options = new CreateOptions(null, false, work, null, false, null, false, to,
                    tmp.resolve("state-k"));
            Path dir = Files.createDirectories(tmp.resolve("repo-k"));
            LocalRepository repo = new LocalRepository(dir);
            String id = create(repo, yaml, options, true).backupId();
            List<MediaObject> records = records(repo, id, identity);
            assertThat(records).hasSize(SMALL + 1).allSatisfy(m -> {
                assertThat(m.encrypted()).isTrue();
                MessageKeys keys = MessageKeys.of(new java.io.ByteArrayInputStream(stored(repo, m)));
                assertThat(keys.publicKeyOnly()).isTrue();
            });
            MediaObject first = records.get(0);
            Procs.Result r = key.gpg("--decrypt", dir.resolve(first.repositoryKey()).toString());
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdoutBytes()).isEqualTo(media.get(first.key()));

            VerifyResult v = new BackupVerifier(repo).verify(id, identity, work, Progress.NONE, true);
            assertThat(v.ok()).as(v.problems().toString()).isTrue();
            Path manifest = BackupReader.fetchManifest(repo, id, identity, Files.createTempDirectory(work, "k"));
            Path target = tmp.resolve("target-k");
            MediaRestore.toTarget(repo, manifest, target, identity, Progress.NONE);
            media.forEach((k, b) -> assertThat(target.resolve("s3-media/media-k/" + k)).hasBinaryContent(b));

            // The next run reuses every copy.
            CreateResult inc = create(repo, yaml, options, true);
            assertThat(inc.media().streamed()).isZero();
        }
    }

    @Test
    void configOptionAndThePrintedStockProcedure() throws Exception {
        Map<String, byte[]> media = fillMedia("media-c");
        Path yaml = homeserver("hs-c", "media-c");
        Path pass = tmp.resolve("pass-c");
        Files.writeString(pass, "cli passphrase\n");
        Files.setPosixFilePermissions(pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Path repoDir = tmp.resolve("repo-c");
        Path config = Files.writeString(tmp.resolve("config-c.yaml"), "repository: " + repoDir + "\nsynapse-config: "
                + yaml + "\npassphrase-file: " + pass + "\nmedia-encryption: true\n");
        dev.synapsebackup.testing.Cli cli = new dev.synapsebackup.testing.Cli();
        var dry = cli.run("create", "--dry-run", "--config", config.toString());
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.stdout()).contains("through this host, OpenPGP-encrypted (media-encryption)");
        var created = cli.run("create", "--config", config.toString());
        assertThat(created.exitCode()).as(created.toString()).isZero();
        String id = created.lastLine();
        List<MediaObject> records = records(new LocalRepository(repoDir), id,
                Opener.passphrase(Secret.of("cli passphrase")));
        assertThat(records).hasSize(SMALL + 1).allSatisfy(m -> assertThat(m.encrypted()).isTrue());

        Path target = tmp.resolve("stock-c");
        var script = cli.run("restore", id, "--print-command", "--target", target.toString(), "--config", config.toString());
        assertThat(script.exitCode()).as(script.toString()).isZero();
        assertThat(script.stdout()).contains("media_decrypt ");
        Path gnupg = Files.createDirectories(tmp.resolve("gnupg-c"));
        Files.setPosixFilePermissions(gnupg, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Procs.Result r = Procs.bash(script.stdout(), Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        media.forEach((k, b) -> assertThat(target.resolve("s3-media/media-c/" + k)).hasBinaryContent(b));
        assertThat(target.resolve("s3-media/media-c/synapse/local_content/zz")).isDirectoryNotContaining("glob:**.gpg-plain");

        var verify = cli.run("verify", id, "--all-media", "--config", config.toString());
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        Procs.bash("gpgconf --kill gpg-agent", Map.of("GNUPGHOME", gnupg.toString()), null);
    }
}
