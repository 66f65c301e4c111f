package dev.synapsebackup.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.PipelinedOutputStream;
import dev.synapsebackup.testing.Procs;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenPgpTest {
    private static final String PASS = "correct horse battery staple ünïcødé";
    private static final Secret SECRET = Secret.of(PASS);

    @TempDir
    static Path dir;
    static Procs.Gpg gpg;

    @BeforeAll
    static void setUp() throws IOException {
        gpg = new Procs.Gpg(dir, PASS);
    }

    @AfterAll
    static void tearDown() {
        gpg.close();
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] encrypt(byte[] plain) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        OutputStream enc = OpenPgp.encrypt(buf, SECRET);
        // odd-sized writes exercise the partial-packet boundaries
        int off = 0;
        Random r = new Random(1);
        while (off < plain.length) {
            int n = Math.min(plain.length - off, 1 + r.nextInt(100_000));
            enc.write(plain, off, n);
            off += n;
        }
        enc.close();
        return buf.toByteArray();
    }

    @Test
    void ourMessageOpensWithRealGpgAndHasTheContractedPackets() throws IOException {
        byte[] plain = randomBytes(300_000, 7);
        byte[] cipher = encrypt(plain);

        Procs.Result dec = gpg.run(cipher, "--decrypt");
        assertThat(dec.exitCode()).as(dec.stderr()).isZero();
        assertThat(dec.stdoutBytes()).isEqualTo(plain);

        Procs.Result packets = gpg.run(cipher, "--list-packets");
        String listing = packets.stdout() + packets.stderr();
        assertThat(packets.exitCode()).as(listing).isZero();
        // gpg 2.2: ":symkey enc packet: version 4, cipher 9, aead 0,s2k 3, hash 8, seskey 256 bits"
        assertThat(listing).containsPattern("symkey enc packet: version 4, cipher 9, (aead 0, ?)?s2k 3, hash 8");
        assertThat(listing).contains("salt ").containsPattern("count 65011712");
        assertThat(listing).containsPattern("encrypted data packet:\\s+length: unknown\\s+mdc_method: 2");
        assertThat(listing).contains("literal data packet");
        assertThat(listing).doesNotContain("compressed packet");
        assertThat(listing).doesNotContain("gpg: WARNING");
    }

    @Test
    @SuppressWarnings("try") // closed inside the block to finish the message before reading it
    void cipherOnItsOwnThreadMakesTheSameKindOfMessage() throws IOException {
        byte[] plain = randomBytes(5_000_011, 11);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PipelinedOutputStream[] stage = {null};
        EncryptionKey key = EncryptionKey.derive(SECRET);
        OutputStream enc = OpenPgp.encrypt(buf, key, s -> stage[0] = new PipelinedOutputStream(s, 1 << 16, 3, "test-cipher"));
        assertThat(stage[0]).isNotNull();
        Random r = new Random(5);
        for (int off = 0; off < plain.length; ) {
            int n = Math.min(plain.length - off, 1 + r.nextInt(200_000));
            enc.write(plain, off, n);
            off += n;
        }
        enc.close();
        byte[] cipher = buf.toByteArray();
        Procs.Result dec = gpg.run(cipher, "--decrypt");
        assertThat(dec.exitCode()).as(dec.stderr()).isZero();
        assertThat(dec.stdoutBytes()).isEqualTo(plain);
        assertThat(OpenPgp.decrypt(cipher, SECRET)).isEqualTo(plain);
        Procs.Result packets = gpg.run(cipher, "--list-packets");
        assertThat(packets.stdout() + packets.stderr()).containsPattern("encrypted data packet:\\s+length: unknown\\s+mdc_method: 2")
                .doesNotContain("compressed packet");

        // Each object gets a key of its own (its own salt); gpg opens each on its own.
        byte[] second;
        try (ByteArrayOutputStream b2 = new ByteArrayOutputStream();
                OutputStream enc2 = OpenPgp.encrypt(b2, EncryptionKey.derive(SECRET))) {
            enc2.write(plain, 0, 100_000);
            enc2.close();
            second = b2.toByteArray();
        }
        Procs.Result dec2 = gpg.run(second, "--decrypt");
        assertThat(dec2.exitCode()).as(dec2.stderr()).isZero();
        assertThat(dec2.stdoutBytes()).isEqualTo(java.util.Arrays.copyOf(plain, 100_000));
        Procs.Result packets2 = gpg.run(second, "--list-packets");
        assertThat(saltOf(packets2.stdout() + packets2.stderr())).isNotEqualTo(saltOf(packets.stdout() + packets.stderr()));
        assertThat(key.toString()).doesNotContain(SECRET.revealString());
    }

    private static String saltOf(String listing) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("salt ([0-9A-Fa-f]{16})").matcher(listing);
        assertThat(m.find()).as(listing).isTrue();
        return m.group(1);
    }

    @Test
    void closeFinishesTheMessageButNotTheTarget() throws IOException {
        boolean[] closed = {false};
        int[] flushes = {0};
        ByteArrayOutputStream buf = new ByteArrayOutputStream() {
            @Override
            public void flush() {
                flushes[0]++;
            }

            @Override
            public void close() {
                closed[0] = true;
            }
        };
        try (OutputStream enc = OpenPgp.encrypt(buf, SECRET)) {
            enc.write("hello".getBytes(StandardCharsets.UTF_8));
        }
        assertThat(closed[0]).isFalse();
        assertThat(flushes[0]).isPositive();
        assertThat(OpenPgp.decrypt(buf.toByteArray(), SECRET)).asString().isEqualTo("hello");
    }

    @Test
    void roundTripsEmptyAndLargeMessagesWithBothCipherImplementations() throws IOException {
        assertThat(OpenPgp.decrypt(OpenPgp.encrypt(new byte[0], SECRET), SECRET)).isEmpty();
        byte[] plain = randomBytes(1_000_003, 3);
        for (boolean jce : new boolean[] {true, false}) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            try (OutputStream enc = OpenPgp.encrypt(buf, SECRET, jce)) {
                enc.write(plain);
            }
            try (InputStream in = OpenPgp.decrypt(new ByteArrayInputStream(buf.toByteArray()), SECRET)) {
                assertThat(in.readAllBytes()).isEqualTo(plain);
            }
        }
    }

    @Test
    void opensGpgMessagesMadeWithItsDefaultsAndCommonOptions() throws IOException {
        byte[] plain = randomBytes(200_000, 11);
        // compressible too, so that gpg's default compression really kicks in
        byte[] text = "Synapse media and config\n".repeat(20_000).getBytes(StandardCharsets.UTF_8);
        String[][] variants = {
            {},
            {"--compress-algo", "none"},
            {"--s2k-digest-algo", "SHA1"},
            {"--cipher-algo", "AES256", "--s2k-digest-algo", "SHA512"},
            {"--cipher-algo", "CAST5"},
            {"--armor"},
        };
        for (String[] variant : variants) {
            for (byte[] data : new byte[][] {plain, text}) {
                String[] args = new String[variant.length + 1];
                System.arraycopy(variant, 0, args, 0, variant.length);
                args[variant.length] = "--symmetric";
                Procs.Result enc = gpg.run(data, args);
                assertThat(enc.exitCode()).as(enc.stderr()).isZero();
                try (InputStream in = OpenPgp.decrypt(new ByteArrayInputStream(enc.stdoutBytes()), SECRET)) {
                    assertThat(in.readAllBytes()).as(String.join(" ", variant)).isEqualTo(data);
                }
            }
        }
    }

    @Test
    void gpgDefaultMessageReallyIsCompressed() {
        byte[] text = "aaaa".repeat(10_000).getBytes(StandardCharsets.UTF_8);
        Procs.Result enc = gpg.run(text, "--symmetric");
        Procs.Result packets = gpg.run(enc.stdoutBytes(), "--list-packets");
        assertThat(packets.stdout()).contains("compressed packet");
        assertThat(OpenPgp.decrypt(enc.stdoutBytes(), SECRET)).isEqualTo(text);
    }

    @Test
    void refusesMessageWithoutMdc() {
        Procs.Result enc = gpg.run("secret".getBytes(StandardCharsets.UTF_8),
                "--rfc2440", "--cipher-algo", "AES", "--symmetric");
        assertThat(enc.exitCode()).as(enc.stderr()).isZero();
        assertThat(gpg.run(enc.stdoutBytes(), "--list-packets").stdout()).doesNotContain("mdc_method");
        assertThatThrownBy(() -> OpenPgp.decrypt(enc.stdoutBytes(), SECRET))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("no integrity protection (MDC)");
    }

    @Test
    void wrongPassphraseIsReportedAsSuch() throws IOException {
        byte[] cipher = encrypt(randomBytes(10_000, 5));
        Procs.Result gpgMade = gpg.run(randomBytes(10_000, 5), "--symmetric");
        for (byte[] c : new byte[][] {cipher, gpgMade.stdoutBytes()}) {
            assertThatThrownBy(() -> OpenPgp.decrypt(c, Secret.of("not it")))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessage("wrong passphrase or corrupted backup")
                    .satisfies(e -> assertThat(e.toString()).doesNotContain(PASS, "not it"));
        }
    }

    @Test
    void flippedByteFailsTheMdcAtEof() throws IOException {
        byte[] plain = randomBytes(500_000, 13);
        byte[] cipher = encrypt(plain);
        byte[] bad = cipher.clone();
        bad[bad.length / 2] ^= 0x01;
        InputStream in = OpenPgp.decrypt(new ByteArrayInputStream(bad), SECRET);
        assertThatThrownBy(() -> in.transferTo(OutputStream.nullOutputStream()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("integrity check failed (MDC)");
        // and gpg agrees that it is bad
        Procs.Result dec = gpg.run(bad, "--decrypt");
        assertThat(dec.exitCode()).isNotZero();
    }

    @Test
    void flippingAnyOfManyBytesNeverGoesUnnoticed() throws IOException {
        byte[] plain = randomBytes(5_000, 17);
        byte[] cipher = encrypt(plain);
        Random r = new Random(99);
        for (int i = 0; i < 40; i++) {
            byte[] bad = cipher.clone();
            int pos = r.nextInt(bad.length);
            bad[pos] ^= (byte) (1 + r.nextInt(255));
            assertThatThrownBy(() -> OpenPgp.decrypt(bad, SECRET))
                    .as("flip at %d", pos)
                    .isInstanceOf(IntegrityException.class);
        }
    }

    @Test
    void truncatedMessageIsAnIntegrityFailure() throws IOException {
        byte[] cipher = encrypt(randomBytes(300_000, 19));
        for (int len : new int[] {cipher.length - 1, cipher.length - 22, cipher.length / 2, 70_000, 30, 3}) {
            byte[] cut = java.util.Arrays.copyOf(cipher, len);
            assertThatThrownBy(() -> OpenPgp.decrypt(cut, SECRET))
                    .as("truncated to %d", len)
                    .isInstanceOf(IntegrityException.class);
        }
        byte[] cut = java.util.Arrays.copyOf(cipher, cipher.length / 2);
        assertThatThrownBy(() -> OpenPgp.decrypt(cut, SECRET)).hasMessageContaining("truncated");
    }

    @Test
    void randomBytesAndEmptyInputAreNotOpenPgp() {
        for (long seed = 0; seed < 20; seed++) {
            byte[] junk = randomBytes(4096, seed);
            assertThatThrownBy(() -> OpenPgp.decrypt(junk, SECRET))
                    .isInstanceOf(IntegrityException.class);
        }
        byte[] junk = randomBytes(4096, 1);
        junk[0] = (byte) 0x3f; // not a packet tag at all
        assertThatThrownBy(() -> OpenPgp.decrypt(junk, SECRET))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not an OpenPGP");
        assertThatThrownBy(() -> OpenPgp.decrypt(new byte[0], SECRET))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not an OpenPGP");
        assertThatThrownBy(() -> OpenPgp.decrypt("just some text\n".getBytes(StandardCharsets.UTF_8), SECRET))
                .isInstanceOf(IntegrityException.class);
    }

    @Test
    void failureOfTheSourceIsNotMistakenForCorruption() throws IOException {
        byte[] cipher = encrypt(randomBytes(300_000, 23));
        InputStream failing = new ByteArrayInputStream(cipher) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                if (pos > 150_000) {
                    throw new java.io.UncheckedIOException(new IOException("connection reset"));
                }
                return super.read(b, off, len);
            }
        };
        InputStream in = OpenPgp.decrypt(failing, SECRET);
        assertThatThrownBy(() -> in.transferTo(OutputStream.nullOutputStream()))
                .isNotInstanceOf(IntegrityException.class)
                .hasMessageContaining("connection reset");
    }

    @Test
    void gpgEncryptedFileOnDiskDecryptsStreaming() throws IOException {
        Path plainFile = dir.resolve("plain.bin");
        byte[] plain = randomBytes(2_000_000, 29);
        Files.write(plainFile, plain);
        Path out = dir.resolve("plain.bin.gpg");
        Procs.Result enc = gpg.run(null, "--output", out.toString(), "--symmetric", plainFile.toString());
        assertThat(enc.exitCode()).as(enc.stderr()).isZero();
        try (InputStream in = OpenPgp.decrypt(Files.newInputStream(out), SECRET)) {
            assertThat(in.readAllBytes()).isEqualTo(plain);
        }
    }
}
