package dev.synapsebackup.crypto;

import java.io.IOException;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Objects;
import java.util.function.UnaryOperator;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.operator.PGPDataEncryptor;
import org.bouncycastle.openpgp.operator.PGPDigestCalculator;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePGPDataEncryptorBuilder;

/**
 * AES-256 SEIPD v1 encryption (OpenPGP CFB: zero IV, no resync; the MDC is SHA-1) for
 * {@code PGPEncryptedDataGenerator}, with two differences from Bouncy Castle's JCE builder:
 *
 * <ul>
 *   <li>the CFB keystream comes from bulk AES-CBC ({@link CfbOutputStream}), into reused buffers
 *       (Bouncy Castle's cipher stream allocates a new array per write);
 *   <li>a {@code cipherStage} may decorate the stream the generator writes its (already
 *       MDC-hashed) plaintext to, before the cipher — a {@code PipelinedOutputStream} there puts
 *       AES-CFB, which is serial by nature, on a thread of its own while the caller's thread
 *       frames the literal data and computes the MDC.
 * </ul>
 *
 * <p>Everything else (key derivation, packets, the MDC packet) stays Bouncy Castle's.
 */
final class AesCfbEncryptorBuilder extends JcePGPDataEncryptorBuilder {
    private static final int BLOCK = 16;
    private static final int BUFFER = 1 << 16;

    private final UnaryOperator<OutputStream> cipherStage;

    AesCfbEncryptorBuilder(SecureRandom random, UnaryOperator<OutputStream> cipherStage) {
        super(SymmetricKeyAlgorithmTags.AES_256);
        setWithIntegrityPacket(true);
        setSecureRandom(random);
        this.cipherStage = Objects.requireNonNull(cipherStage, "cipherStage");
    }

    @Override
    public PGPDataEncryptor build(byte[] keyBytes) throws PGPException {
        Cipher cbc;
        byte[] firstKeystream;
        try {
            // OpenPGP's CFB starts from a zero IV: the first keystream block is AES(0).
            Cipher ecb = Cipher.getInstance("AES/ECB/NoPadding");
            ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(keyBytes, "AES"));
            firstKeystream = ecb.doFinal(new byte[BLOCK]);
            cbc = Cipher.getInstance("AES/CBC/NoPadding");
            cbc.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(keyBytes, "AES"), new IvParameterSpec(firstKeystream));
        } catch (GeneralSecurityException e) {
            throw new PGPException("AES is not available: " + e.getMessage(), e);
        }
        PGPDigestCalculator mdc = new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA1);
        return new PGPDataEncryptor() {
            @Override
            public OutputStream getOutputStream(OutputStream out) {
                return cipherStage.apply(new CfbOutputStream(out, cbc, firstKeystream));
            }

            @Override
            public PGPDigestCalculator getIntegrityCalculator() {
                return mdc;
            }

            @Override
            public int getBlockSize() {
                return BLOCK;
            }
        };
    }

    /**
     * CFB encryption (zero IV, full-block feedback, no resync) whose keystream comes from AES-CBC.
     * CFB's keystream block i+1 is {@code E(C[i]) = E(P[i] xor X[i])}, which is exactly what CBC
     * encryption of the plaintext computes when started from {@code X[1] = E(0)}: so one bulk
     * CBC call per buffer (the JDK's intrinsic keeps the round keys in registers, where its CFB
     * goes a block at a time) and an XOR give the ciphertext. A final partial block
     * is XORed with the keystream block that follows. Closing writes it and closes {@code out}.
     */
    static final class CfbOutputStream extends OutputStream {
        private final OutputStream out;
        private final Cipher cbc;
        /** Plaintext not yet encrypted (less than a block between writes). */
        private final byte[] plain = new byte[BUFFER];
        private int plainLen;
        /** [0, 16): the keystream block for the next plaintext block; then CBC's output. */
        private final byte[] keystream = new byte[BLOCK + BUFFER];
        private final byte[] cipherText = new byte[BUFFER];
        private boolean closed;

        CfbOutputStream(OutputStream out, Cipher cbc, byte[] firstKeystream) {
            this.out = out;
            this.cbc = cbc;
            System.arraycopy(firstKeystream, 0, keystream, 0, BLOCK);
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            while (len > 0) {
                int n = Math.min(len, BUFFER - plainLen);
                System.arraycopy(b, off, plain, plainLen, n);
                plainLen += n;
                off += n;
                len -= n;
                encryptWholeBlocks();
            }
        }

        /** Encrypts the whole blocks of {@code plain}; keeps a partial block for later. */
        private void encryptWholeBlocks() throws IOException {
            int whole = plainLen / BLOCK * BLOCK;
            if (whole == 0) {
                return;
            }
            try {
                cbc.update(plain, 0, whole, keystream, BLOCK);
            } catch (GeneralSecurityException e) {
                throw new IOException("AES encryption failed: " + e.getMessage(), e);
            }
            xor(whole);
            out.write(cipherText, 0, whole);
            // the last CBC block is the keystream of the next plaintext block
            System.arraycopy(keystream, whole, keystream, 0, BLOCK);
            System.arraycopy(plain, whole, plain, 0, plainLen - whole);
            plainLen -= whole;
        }

        private void xor(int len) {
            // same index on all three arrays: C2 turns this into vector instructions
            for (int i = 0; i < len; i++) {
                cipherText[i] = (byte) (plain[i] ^ keystream[i]);
            }
        }

        @Override
        public void flush() throws IOException {
            out.flush(); // a partial block cannot be encrypted yet; it goes out with the next write
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            xor(plainLen); // the final partial block
            out.write(cipherText, 0, plainLen);
            plainLen = 0;
            out.close();
        }
    }
}
