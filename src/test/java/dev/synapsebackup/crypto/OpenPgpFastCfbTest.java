package dev.synapsebackup.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/**
 * Our CFB streams (decryption from bulk ECB, encryption from bulk CBC) match the JDK's own
 * AES/CFB byte for byte, whatever the read and write sizes.
 */
class OpenPgpFastCfbTest {
    /** An initialised AES cipher; {@code iv} null for ECB. */
    private static Cipher aes(String transformation, int mode, byte[] key, byte[] iv) throws Exception {
        Cipher c = Cipher.getInstance(transformation);
        if (iv == null) {
            c.init(mode, new SecretKeySpec(key, "AES"));
        } else {
            c.init(mode, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
        }
        return c;
    }

    @Test
    void matchesJdkCfbForAnyLengthAndReadPattern() throws Exception {
        Random r = new Random(5);
        for (int keyLen : new int[] {16, 24, 32}) {
            byte[] key = new byte[keyLen];
            r.nextBytes(key);
            for (int len : new int[] {0, 1, 15, 16, 17, 31, 32, 33, 65_535, 65_536, 65_537, 200_003}) {
                byte[] ciphertext = new byte[len];
                r.nextBytes(ciphertext);
                byte[] expected = aes("AES/CFB/NoPadding", Cipher.DECRYPT_MODE, key, new byte[16]).doFinal(ciphertext);
                Cipher ecb = aes("AES/ECB/NoPadding", Cipher.ENCRYPT_MODE, key, null);
                // a source that hands out odd-sized pieces, as network streams do
                InputStream source = new ByteArrayInputStream(ciphertext) {
                    @Override
                    public synchronized int read(byte[] b, int off, int n) {
                        return super.read(b, off, Math.min(n, 1 + r.nextInt(40_000)));
                    }
                };
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                try (InputStream in = new AesCfbDecryptorFactory.CfbDecryptingInputStream(source, ecb)) {
                    byte[] buf = new byte[7919];
                    int n;
                    while ((n = r.nextBoolean() ? in.read(buf, 0, 1 + r.nextInt(buf.length)) : single(in, buf)) >= 0) {
                        out.write(buf, 0, n);
                    }
                }
                assertThat(out.toByteArray()).as("key %d, length %d", keyLen, len).isEqualTo(expected);
            }
        }
    }

    @Test
    void encryptionFromCbcMatchesJdkCfbForAnyWriteSizes() throws Exception {
        Random r = new Random(9);
        for (int round = 0; round < 40; round++) {
            byte[] key = new byte[32];
            r.nextBytes(key);
            byte[] plain = new byte[round < 20 ? r.nextInt(64) : r.nextInt(400_000)];
            r.nextBytes(plain);
            byte[] expected = aes("AES/CFB/NoPadding", Cipher.ENCRYPT_MODE, key, new byte[16]).doFinal(plain);

            byte[] first = aes("AES/ECB/NoPadding", Cipher.ENCRYPT_MODE, key, null).doFinal(new byte[16]);
            Cipher cbc = aes("AES/CBC/NoPadding", Cipher.ENCRYPT_MODE, key, first);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (AesCfbEncryptorBuilder.CfbOutputStream cfb = new AesCfbEncryptorBuilder.CfbOutputStream(out, cbc, first)) {
                for (int off = 0; off < plain.length; ) {
                    int n = Math.min(plain.length - off, r.nextInt(5) == 0 ? 1 + r.nextInt(20) : 1 + r.nextInt(150_000));
                    if (n == 1 && r.nextBoolean()) {
                        cfb.write(plain[off]);
                    } else {
                        cfb.write(plain, off, n);
                    }
                    off += n;
                }
            }
            assertThat(out.toByteArray()).as("round %d, %d bytes", round, plain.length).isEqualTo(expected);
        }
    }

    private static int single(InputStream in, byte[] buf) throws IOException {
        int b = in.read();
        if (b < 0) {
            return -1;
        }
        buf[0] = (byte) b;
        return 1;
    }
}
