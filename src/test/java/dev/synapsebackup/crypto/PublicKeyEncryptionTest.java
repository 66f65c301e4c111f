package dev.synapsebackup.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.PipelinedOutputStream;
import dev.synapsebackup.testing.GpgKeys;
import dev.synapsebackup.testing.Procs;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.bouncycastle.bcpg.ArmoredOutputStream;
import org.bouncycastle.openpgp.PGPPublicKey;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.operator.bc.BcKeyFingerprintCalculator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Public-key encryption against the real gpg, both ways, with keys gpg made. */
class PublicKeyEncryptionTest {
    @TempDir
    static Path dir;
    static GpgKeys rsa;
    static GpgKeys cv;
    static GpgKeys signOnly;

    @BeforeAll
    static void setUp() throws IOException {
        rsa = new GpgKeys(dir, "rsa", GpgKeys.Kind.RSA, "");
        cv = new GpgKeys(dir, "cv", GpgKeys.Kind.CV25519, "key pass ü");
        signOnly = new GpgKeys(dir, "signonly", GpgKeys.Kind.SIGN_ONLY, "");
    }

    @AfterAll
    static void tearDown() {
        for (GpgKeys k : new GpgKeys[] {rsa, cv, signOnly}) {
            if (k != null) {
                k.close();
            }
        }
    }

    private static Supplier<Secret> pass(String p) {
        return () -> Secret.of(p);
    }

    private static Supplier<Secret> noPassphrase() {
        return () -> {
            throw new AssertionError("an unprotected key needs no passphrase");
        };
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    private static byte[] encrypt(Recipients to, byte[] plain) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        // the cipher on its own thread, as create runs it
        try (OutputStream enc = to.encrypt(buf, s -> new PipelinedOutputStream(s, 1 << 16, 4, "test-encrypt"))) {
            enc.write(plain);
        }
        return buf.toByteArray();
    }

    private static byte[] decrypt(Opener opener, byte[] message) throws IOException {
        try (InputStream in = opener.decrypt(new ByteArrayInputStream(message))) {
            return in.readAllBytes();
        }
    }

    @Test
    void gpgDecryptsWhatWeEncryptToBothKeysAndListsV3PkeskAndSeipdV1() throws Exception {
        Recipients to = Recipients.load(List.of(rsa.publicKey, cv.publicKey), "encryption.recipients");
        assertThat(to.fingerprints()).containsExactly(rsa.fingerprint, cv.fingerprint);
        byte[] plain = randomBytes(300_001);
        byte[] message = encrypt(to, plain);
        Path file = dir.resolve("message.gpg");
        Files.write(file, message);
        for (GpgKeys k : new GpgKeys[] {rsa, cv}) {
            Procs.Result r = k.gpg("--show-session-key", "--decrypt", file.toString());
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stderr()).contains("session key: '9:"); // 9: AES-256
            assertThat(r.stdoutBytes()).isEqualTo(plain);
        }
        Procs.Result packets = rsa.gpg("--list-packets", file.toString());
        assertThat(packets.stdout()).contains(":pubkey enc packet: version 3, algo 1")
                .contains(":pubkey enc packet: version 3, algo 18")
                .contains(":encrypted data packet:").contains("mdc_method: 2")
                .doesNotContain("compressed packet").doesNotContain("aead");
        assertThat(MessageKeys.of(new ByteArrayInputStream(message)).keyIds()).isEqualTo(to.keyIds());
        assertThat(MessageKeys.of(new ByteArrayInputStream(message)).publicKeyOnly()).isTrue();
    }

    @Test
    void weDecryptWhatGpgEncryptsWithArmoredAndBinarySecretKeysWithAndWithoutPassphrase() throws Exception {
        byte[] plain = randomBytes(200_003);
        Path in = dir.resolve("plain.bin");
        Files.write(in, plain);
        for (GpgKeys k : new GpgKeys[] {rsa, cv}) {
            Path out = dir.resolve("from-gpg-" + k.fingerprint + ".gpg");
            Procs.Result enc = k.gpg("--trust-model", "always", "--output", out.toString(), "--encrypt",
                    "-r", k.fingerprint, in.toString());
            assertThat(enc.exitCode()).as(enc.stderr()).isZero();
            Supplier<Secret> p = k == rsa ? noPassphrase() : pass("key pass ü");
            for (Path secret : List.of(k.secretKeyArmored, k.secretKeyBinary)) {
                Identity id = Identity.load(secret, p);
                assertThat(id.fingerprints()).containsExactly(k.fingerprint);
                assertThat(decrypt(id, Files.readAllBytes(out))).isEqualTo(plain);
            }
        }
        // and our own messages, through the identity
        Recipients to = Recipients.load(List.of(cv.publicKey), "encryption.recipients");
        assertThat(decrypt(Identity.load(cv.secretKeyArmored, pass("key pass ü")), encrypt(to, plain))).isEqualTo(plain);
        assertThat(Identity.load(cv.secretKeyArmored, pass("key pass ü"))
                .decrypt(to.encrypt(new byte[] {1, 2, 3}))).containsExactly(1, 2, 3);
    }

    @Test
    void wrongIdentityWrongPassphraseAndTamperingAreIntegrityFailures() throws Exception {
        Recipients toRsa = Recipients.load(List.of(rsa.publicKey), "encryption.recipients");
        byte[] message = encrypt(toRsa, randomBytes(100_000));
        Identity other = Identity.load(cv.secretKeyBinary, pass("key pass ü"));
        assertThatThrownBy(() -> decrypt(other, message)).isInstanceOf(IntegrityException.class)
                .hasMessageStartingWith(Identity.NOT_A_RECIPIENT);
        assertThatThrownBy(() -> Identity.load(cv.secretKeyArmored, pass("not it")))
                .isInstanceOf(IntegrityException.class).hasMessageContaining("wrong passphrase for the identity");
        // a passphrase message met with an identity
        byte[] symmetric = OpenPgp.encrypt(new byte[] {1}, Secret.of("pw"));
        Identity mine = Identity.load(rsa.secretKeyArmored, noPassphrase());
        assertThatThrownBy(() -> decrypt(mine, symmetric)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("encrypted with a passphrase");
        // and a public-key message met with a passphrase
        assertThatThrownBy(() -> OpenPgp.decrypt(message, Secret.of("pw"))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("--identity");
        byte[] tampered = message.clone();
        tampered[tampered.length - 100] ^= 1;
        assertThatThrownBy(() -> decrypt(mine, tampered)).isInstanceOf(IntegrityException.class);
    }

    @Test
    void keyFilesAreValidatedNamingTheFile() throws Exception {
        assertThatThrownBy(() -> Recipients.load(List.of(signOnly.publicKey), "encryption.recipients"))
                .isInstanceOf(ConfigException.class).hasMessageContaining(signOnly.publicKey.toString())
                .hasMessageContaining("no valid encryption-capable key");
        assertThatThrownBy(() -> Recipients.load(List.of(rsa.secretKeyArmored), "encryption.recipients"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("holds a secret key");
        Path junk = Files.writeString(dir.resolve("junk.asc"), "not a key\n");
        assertThatThrownBy(() -> Recipients.load(List.of(junk), "encryption.recipients"))
                .isInstanceOf(ConfigException.class).hasMessageContaining(junk.toString());
        Path missing = dir.resolve("missing.asc");
        assertThatThrownBy(() -> Recipients.load(List.of(missing), "encryption.recipients"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cannot be read")
                .hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> Identity.load(rsa.publicKey, noPassphrase()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("is a public key");
    }

    @Test
    void revokedAndExpiredKeysAreRefused() throws Exception {
        try (GpgKeys k = new GpgKeys(dir, "revoked", GpgKeys.Kind.CV25519, "")) {
            // gpg's own revocation certificate, made with the key, guarded by a leading colon
            Path cert = k.home.resolve("openpgp-revocs.d/" + k.fingerprint + ".rev");
            Path rev = Files.writeString(dir.resolve("revoke.asc"), Files.readString(cert).replace(":-----BEGIN", "-----BEGIN"));
            assertThat(k.gpg("--import", rev.toString()).exitCode()).isZero();
            Path revoked = Files.write(dir.resolve("revoked.asc"), k.gpg("--export", "--armor", k.fingerprint).stdoutBytes());
            assertThatThrownBy(() -> Recipients.load(List.of(revoked), "encryption.recipients"))
                    .isInstanceOf(ConfigException.class).hasMessageContaining(revoked.toString()).hasMessageContaining("is revoked");

            Procs.Result old = k.gpg("--faked-system-time", "20200101T000000", "--quick-gen-key", "Old <old@example.org>",
                    "ed25519", "sign,cert", "1d");
            assertThat(old.exitCode()).as(old.stderr()).isZero();
            Path expired = Files.write(dir.resolve("expired.asc"), k.gpg("--export", "--armor", "old@example.org").stdoutBytes());
            assertThatThrownBy(() -> Recipients.load(List.of(expired), "encryption.recipients"))
                    .isInstanceOf(ConfigException.class).hasMessageContaining(expired.toString()).hasMessageContaining("expired on 2020-01-02");
        }
    }

    private static PGPPublicKeyRing ring(Path file) throws IOException {
        try (InputStream in = PGPUtil.getDecoderStream(Files.newInputStream(file))) {
            return new PGPPublicKeyRing(in, new BcKeyFingerprintCalculator());
        }
    }

    private static Path write(PGPPublicKeyRing ring, Path file) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ArmoredOutputStream armored = ArmoredOutputStream.builder().build(buf)) {
            ring.encode(armored);
        }
        return Files.write(file, buf.toByteArray());
    }

    private static PGPPublicKey subkey(PGPPublicKeyRing ring) {
        for (PGPPublicKey k : ring) {
            if (!k.isMasterKey()) {
                return k;
            }
        }
        throw new AssertionError("no subkey");
    }

    private static PGPPublicKey unsigned(PGPPublicKey k) {
        PGPPublicKey bare = k;
        for (Iterator<PGPSignature> it = k.getSignatures(); it.hasNext();) {
            bare = PGPPublicKey.removeCertification(bare, it.next());
        }
        assertThat(bare.getSignatures()).isExhausted();
        return bare;
    }

    @Test
    void onlySubkeysBoundByThePrimaryAreEncryptedTo() throws Exception {
        try (GpgKeys owner = new GpgKeys(dir, "owner", GpgKeys.Kind.CV25519, "");
                GpgKeys foreigner = new GpgKeys(dir, "foreigner", GpgKeys.Kind.CV25519, "")) {
            PGPPublicKeyRing genuine = ring(owner.publicKey);
            PGPPublicKey genuineSub = subkey(genuine);
            PGPPublicKey foreignSub = subkey(ring(foreigner.publicKey));
            assertThat(foreignSub.getCreationTime()).isAfterOrEqualTo(genuineSub.getCreationTime());
            Identity ownerId = Identity.load(owner.secretKeyBinary, noPassphrase());
            Identity foreignId = Identity.load(foreigner.secretKeyBinary, noPassphrase());

            // the foreigner's subkey with the foreigner's own binding signature, and the same without any
            for (PGPPublicKey inserted : List.of(foreignSub, unsigned(foreignSub))) {
                Path file = write(PGPPublicKeyRing.insertPublicKey(genuine, inserted),
                        dir.resolve("inserted-" + inserted.getSignatures().hasNext() + ".asc"));
                Recipients to = Recipients.load(List.of(file), "encryption.recipients");
                assertThat(to.fingerprints()).containsExactly(owner.fingerprint);
                assertThat(to.list().get(0).encryptionKey().getKeyID()).isEqualTo(genuineSub.getKeyID());
                byte[] plain = randomBytes(10_007);
                byte[] message = encrypt(to, plain);
                assertThat(MessageKeys.of(new ByteArrayInputStream(message)).keyIds())
                        .containsExactly(Recipients.keyIdHex(genuineSub.getKeyID()));
                assertThat(decrypt(ownerId, message)).isEqualTo(plain);
                assertThatThrownBy(() -> decrypt(foreignId, message)).isInstanceOf(IntegrityException.class)
                        .hasMessageStartingWith(Identity.NOT_A_RECIPIENT);
            }

            // the owner's own subkey stripped of its binding is no encryption key at all
            Path stripped = write(PGPPublicKeyRing.insertPublicKey(genuine, unsigned(genuineSub)), dir.resolve("stripped.asc"));
            assertThatThrownBy(() -> Recipients.load(List.of(stripped), "encryption.recipients"))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("\"encryption.recipients\"")
                    .hasMessageContaining(stripped.toString()).hasMessageContaining("no valid encryption-capable key");

            // the owner's primary with the foreigner's user id and certification: no valid self-signature
            PGPPublicKey foreignPrimary = ring(foreigner.publicKey).getPublicKey();
            String foreignUid = foreignPrimary.getUserIDs().next();
            PGPSignature foreignCert = foreignPrimary.getSignaturesForID(foreignUid).next();
            PGPPublicKey primary = genuine.getPublicKey();
            primary = PGPPublicKey.removeCertification(primary, primary.getUserIDs().next());
            primary = PGPPublicKey.addCertification(primary, foreignUid, foreignCert);
            Path foreignUserId = write(PGPPublicKeyRing.insertPublicKey(genuine, primary), dir.resolve("foreign-uid.asc"));
            assertThatThrownBy(() -> Recipients.load(List.of(foreignUserId), "encryption.recipients"))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("\"encryption.recipients\"")
                    .hasMessageContaining(foreignUserId.toString()).hasMessageContaining("no valid self-signature");
        }
    }
}
