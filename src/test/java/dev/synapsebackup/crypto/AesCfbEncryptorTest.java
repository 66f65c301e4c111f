package dev.synapsebackup.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.Random;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The CBC-derived CFB stream must produce exactly what plain AES/CFB does, whatever the write sizes. */
class AesCfbEncryptorTest {
    @Test
    void matchesTheJdksCfbForAnyWriteSizes() throws Exception {
        Random r = new Random(9);
        for (int round = 0; round < 40; round++) {
            byte[] key = new byte[32];
            r.nextBytes(key);
            byte[] plain = new byte[round < 20 ? r.nextInt(64) : r.nextInt(400_000)];
            r.nextBytes(plain);

            Cipher reference = Cipher.getInstance("AES/CFB/NoPadding");
            reference.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
            byte[] expected = reference.doFinal(plain);

            Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
            ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"));
            byte[] first = ecb.doFinal(new byte[16]);
            Cipher cbc = Cipher.getInstance("AES/CBC/NoPadding");
            cbc.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(first));
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
}
