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
 *   <li>the cipher writes into one reused buffer (Bouncy Castle's cipher stream allocates a new
 *       array per write: a gigabyte of garbage per gigabyte encrypted);
 *   <li>a {@code cipherStage} may decorate the stream the generator writes its (already
 *       MDC-hashed) plaintext to, before the cipher — a {@code PipelinedOutputStream} there puts
 *       AES-CFB, which is serial by nature, on a thread of its own while the caller's thread
 *       frames the literal data and computes the MDC.
 * </ul>
 *
 * <p>Everything else (key derivation, packets, the MDC packet) stays Bouncy Castle's.
 */
final class AesCfbEncryptorBuilder extends JcePGPDataEncryptorBuilder {
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
        Cipher cfb;
        try {
            cfb = Cipher.getInstance("AES/CFB/NoPadding");
            cfb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(keyBytes, "AES"), new IvParameterSpec(new byte[16]));
        } catch (GeneralSecurityException e) {
            throw new PGPException("AES/CFB is not available: " + e.getMessage(), e);
        }
        PGPDigestCalculator mdc = new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA1);
        return new PGPDataEncryptor() {
            @Override
            public OutputStream getOutputStream(OutputStream out) {
                return cipherStage.apply(new CfbOutputStream(out, cfb));
            }

            @Override
            public PGPDigestCalculator getIntegrityCalculator() {
                return mdc;
            }

            @Override
            public int getBlockSize() {
                return 16;
            }
        };
    }

    /** Encrypts through a JCE cipher into one reused buffer; closing finishes the cipher and closes {@code out}. */
    static final class CfbOutputStream extends OutputStream {
        private final OutputStream out;
        private final Cipher cipher;
        private final byte[] buf = new byte[BUFFER + 16];
        private boolean closed;

        CfbOutputStream(OutputStream out, Cipher cipher) {
            this.out = out;
            this.cipher = cipher;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            while (len > 0) {
                int n = Math.min(len, BUFFER);
                int produced;
                try {
                    produced = cipher.update(b, off, n, buf, 0);
                } catch (GeneralSecurityException e) {
                    throw new IOException("AES/CFB encryption failed: " + e.getMessage(), e);
                }
                out.write(buf, 0, produced);
                off += n;
                len -= n;
            }
        }

        @Override
        public void flush() throws IOException {
            out.flush(); // a partial cipher block cannot be flushed; it goes out with the next write
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            try {
                int produced = cipher.doFinal(buf, 0);
                out.write(buf, 0, produced);
            } catch (GeneralSecurityException e) {
                throw new IOException("AES/CFB encryption failed: " + e.getMessage(), e);
            }
            out.close();
        }
    }
}
