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

/** The ECB-based CFB decryption matches the JDK's own AES/CFB byte for byte. */
class OpenPgpFastCfbTest {
    @Test
    void matchesJdkCfbForAnyLengthAndReadPattern() throws Exception {
        Random r = new Random(5);
        for (int keyLen : new int[] {16, 24, 32}) {
            byte[] key = new byte[keyLen];
            r.nextBytes(key);
            for (int len : new int[] {0, 1, 15, 16, 17, 31, 32, 33, 65_535, 65_536, 65_537, 200_003}) {
                byte[] ciphertext = new byte[len];
                r.nextBytes(ciphertext);
                Cipher jdk = Cipher.getInstance("AES/CFB/NoPadding");
                jdk.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
                byte[] expected = jdk.doFinal(ciphertext);

                Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
                ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"));
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

    private static int single(InputStream in, byte[] buf) throws IOException {
        int b = in.read();
        if (b < 0) {
            return -1;
        }
        buf[0] = (byte) b;
        return 1;
    }
}
