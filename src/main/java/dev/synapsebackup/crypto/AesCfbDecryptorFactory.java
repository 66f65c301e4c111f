package dev.synapsebackup.crypto;

import dev.synapsebackup.io.BulkReadInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.bcpg.AEADEncDataPacket;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.S2K;
import org.bouncycastle.bcpg.SymmetricEncIntegrityPacket;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyEncSessionPacket;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPSessionKey;
import org.bouncycastle.openpgp.operator.PBEDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.PGPDataDecryptor;
import org.bouncycastle.openpgp.operator.PGPDigestCalculator;
import org.bouncycastle.openpgp.operator.PGPDigestCalculatorProvider;

/**
 * Decrypts AES SEIPD v1 (CFB, zero IV, no resync) several times faster than a plain CFB
 * cipher: CFB decryption needs E(C[i-1]) for block i, and all C are known in advance, so the
 * keystream of a whole buffer comes from one AES/ECB call over the shifted ciphertext (SunJCE's
 * ECB works through a whole buffer per call, its CFB a block at a time). Everything else
 * (session key recovery, other ciphers, AEAD) is left to the delegate.
 */
final class AesCfbDecryptorFactory extends PBEDataDecryptorFactory {
    private static final int BLOCK = 16;
    private static final int BUFFER = 1 << 16;

    private final PBEDataDecryptorFactory delegate;
    private final PGPDigestCalculatorProvider digests;
    /** The caller's array, wiped by the caller once the message is open. */
    private final char[] passphrase;

    AesCfbDecryptorFactory(char[] passphrase, PGPDigestCalculatorProvider digests,
            PBEDataDecryptorFactory delegate) {
        super(passphrase, digests);
        this.delegate = delegate;
        this.digests = digests;
        this.passphrase = passphrase;
    }

    /** The key from the passphrase, by {@link S2kKeys} where it can (several times faster in a fresh JVM). */
    @Override
    public byte[] makeKeyFromPassPhrase(int keyAlgorithm, S2K s2k) throws PGPException {
        if (s2k != null && S2kKeys.supports(s2k, keyAlgorithm)) {
            return S2kKeys.derive(passphrase, s2k, keyAlgorithm);
        }
        return super.makeKeyFromPassPhrase(keyAlgorithm, s2k);
    }

    @Override
    public byte[] recoverSessionData(int keyAlgorithm, byte[] key, byte[] sessionKeyData)
            throws PGPException {
        return delegate.recoverSessionData(keyAlgorithm, key, sessionKeyData);
    }

    @Override
    public byte[] recoverAEADEncryptedSessionData(SymmetricKeyEncSessionPacket keyData,
            byte[] ikm) throws PGPException {
        return delegate.recoverAEADEncryptedSessionData(keyData, ikm);
    }

    @Override
    public PGPDataDecryptor createDataDecryptor(AEADEncDataPacket aeadData,
            PGPSessionKey sessionKey) throws PGPException {
        return delegate.createDataDecryptor(aeadData, sessionKey);
    }

    @Override
    public PGPDataDecryptor createDataDecryptor(SymmetricEncIntegrityPacket seipd,
            PGPSessionKey sessionKey) throws PGPException {
        return delegate.createDataDecryptor(seipd, sessionKey);
    }

    @Override
    public PGPDataDecryptor createDataDecryptor(boolean withIntegrityPacket, int encAlgorithm,
            byte[] key) throws PGPException {
        if (!withIntegrityPacket || !isAes(encAlgorithm)) {
            // without MDC OpenPGP uses its resyncing CFB variant: not ours (and refused anyway)
            return delegate.createDataDecryptor(withIntegrityPacket, encAlgorithm, key);
        }
        return fastAes(key, digests.get(HashAlgorithmTags.SHA1));
    }

    /**
     * The fast decryptor of an AES SEIPD v1 body under {@code key}, with {@code mdc} as its
     * integrity calculator; shared with {@link Identity}, whose session keys come from PKESKs.
     */
    static PGPDataDecryptor fastAes(byte[] key, PGPDigestCalculator mdc) throws PGPException {
        Cipher ecb;
        try {
            ecb = Cipher.getInstance("AES/ECB/NoPadding");
            ecb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"));
        } catch (GeneralSecurityException e) {
            throw new PGPException("AES is not available: " + e.getMessage(), e);
        }
        return new PGPDataDecryptor() {
            @Override
            public InputStream getInputStream(InputStream in) {
                return new CfbDecryptingInputStream(in, ecb);
            }

            @Override
            public int getBlockSize() {
                return BLOCK;
            }

            @Override
            public PGPDigestCalculator getIntegrityCalculator() {
                return mdc;
            }
        };
    }

    /** Whether {@code algorithm} (an OpenPGP symmetric algorithm id) is AES, of any key size. */
    static boolean isAes(int algorithm) {
        return algorithm == SymmetricKeyAlgorithmTags.AES_128 || algorithm == SymmetricKeyAlgorithmTags.AES_192
                || algorithm == SymmetricKeyAlgorithmTags.AES_256;
    }

    /** Plain CFB decryption with a zero IV, keystream computed a buffer at a time via ECB. */
    static final class CfbDecryptingInputStream extends BulkReadInputStream {
        private final InputStream in;
        private final Cipher ecb;
        /** [0,16): previous ciphertext block (the IV at first); then ciphertext not yet used. */
        private final byte[] cipher = new byte[BLOCK + BUFFER];
        private int cipherLen = BLOCK;
        /** keystream and plaintext sit at the same offsets as the ciphertext they belong to. */
        private final byte[] keystream = new byte[BLOCK + BUFFER];
        private final byte[] plain = new byte[BLOCK + BUFFER];
        private int plainPos;
        private int plainLen;
        private boolean eof;

        CfbDecryptingInputStream(InputStream in, Cipher ecb) {
            this.in = in;
            this.ecb = ecb;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            while (plainPos == plainLen) {
                if (!fill()) {
                    return -1;
                }
            }
            int n = Math.min(len, plainLen - plainPos);
            System.arraycopy(plain, plainPos, b, off, n);
            plainPos += n;
            return n;
        }

        /** Decrypts the next run of ciphertext; false at end of data. */
        private boolean fill() throws IOException {
            if (eof) {
                return false;
            }
            int n = in.read(cipher, cipherLen, cipher.length - cipherLen);
            if (n < 0) {
                eof = true;
                int tail = cipherLen - BLOCK; // a final partial block
                if (tail == 0) {
                    return false;
                }
                keystream(BLOCK);
                xor(tail);
                cipherLen = BLOCK;
                return true;
            }
            cipherLen += n;
            int full = (cipherLen - BLOCK) / BLOCK * BLOCK;
            if (full == 0) {
                plainPos = plainLen = 0;
                return true; // need more ciphertext for a whole block
            }
            keystream(full);
            xor(full);
            // keep the last full ciphertext block as feedback, plus any partial block after it
            System.arraycopy(cipher, full, cipher, 0, cipherLen - full);
            cipherLen -= full;
            return true;
        }

        /** keystream[16, 16 + len) = AES(cipher[0, len)): block i is keyed by ciphertext block i-1. */
        private void keystream(int len) throws IOException {
            try {
                ecb.update(cipher, 0, len, keystream, BLOCK);
            } catch (ShortBufferException e) {
                throw new IOException(e);
            }
        }

        private void xor(int len) {
            // one index for all three arrays: C2 turns this into vector instructions (it does not
            // with offset indices, and eight bytes at a time is slower)
            for (int i = BLOCK; i < BLOCK + len; i++) {
                plain[i] = (byte) (cipher[i] ^ keystream[i]);
            }
            plainPos = BLOCK;
            plainLen = BLOCK + len;
        }
    }
}
