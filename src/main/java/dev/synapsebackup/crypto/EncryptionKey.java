package dev.synapsebackup.crypto;

import dev.synapsebackup.config.Secret;
import java.security.SecureRandom;
import org.bouncycastle.bcpg.ContainedPacket;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.S2K;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyEncSessionPacket;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.operator.PGPDataEncryptorBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEKeyEncryptionMethodGenerator;

/**
 * An AES-256 key derived from the passphrase with a fresh random salt (iterated and salted S2K,
 * SHA-256, coded count {@value OpenPgp#S2K_COUNT}), for encrypting the objects of one run.
 *
 * <p>Deriving the key is deliberately slow (65 MB hashed), so a caller can derive it ahead of
 * time, on another thread. Use one key per message: a v4 SKESK encrypts the message's session key
 * with this key in CFB mode from a zero IV, so two messages under one key would share the first
 * keystream block and reveal the XOR of their session keys' first 15 bytes. Never printed:
 * {@link #toString()} shows only the parameters.
 */
public final class EncryptionKey {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final S2K s2k;
    private final byte[] key;
    private final Method method = new Method();

    private EncryptionKey(S2K s2k, byte[] key) {
        this.s2k = s2k;
        this.key = key;
    }

    /** Derives a key from {@code passphrase} with a new random salt; takes about a tenth of a second. */
    public static EncryptionKey derive(Secret passphrase) {
        byte[] salt = new byte[8];
        RANDOM.nextBytes(salt);
        S2K s2k = new S2K(HashAlgorithmTags.SHA256, salt, OpenPgp.S2K_COUNT);
        char[] pass = passphrase.reveal();
        try {
            return new EncryptionKey(s2k, S2kKeys.derive(pass, s2k, SymmetricKeyAlgorithmTags.AES_256));
        } finally {
            java.util.Arrays.fill(pass, '\0');
        }
    }

    /** The key-encryption method for Bouncy Castle's {@code PGPEncryptedDataGenerator}. */
    JcePBEKeyEncryptionMethodGenerator method() {
        return method;
    }

    @Override
    public String toString() {
        return "EncryptionKey[AES-256, S2K iterated+salted SHA-256]";
    }

    /** Bouncy Castle's passphrase method with the key already derived and the salt fixed. */
    private final class Method extends JcePBEKeyEncryptionMethodGenerator {
        Method() {
            // The passphrase is not needed here: the key is derived already.
            super(new char[0], sha256(), OpenPgp.S2K_COUNT);
        }

        @Override
        public byte[] getKey(int encAlgorithm) throws PGPException {
            requireAes256(encAlgorithm);
            return key.clone();
        }

        /** As Bouncy Castle's, with our salt: the random session key encrypted under the derived key. */
        @Override
        public ContainedPacket generate(PGPDataEncryptorBuilder builder, byte[] sessionInfo) throws PGPException {
            if (builder.getAeadAlgorithm() > 0) {
                throw new PGPException("AEAD (v5/v6 SKESK) is not written: GnuPG 2.2 cannot read it");
            }
            int algorithm = getSessionKeyWrapperAlgorithm(builder.getAlgorithm());
            requireAes256(algorithm);
            if (sessionInfo == null) {
                return SymmetricKeyEncSessionPacket.createV4Packet(algorithm, s2k, null);
            }
            byte[] kek = getKey(algorithm);
            try {
                byte[] esk = encryptSessionInfo(algorithm, kek,
                        org.bouncycastle.util.Arrays.prepend(sessionInfo, (byte) builder.getAlgorithm()));
                return SymmetricKeyEncSessionPacket.createV4Packet(algorithm, s2k, esk);
            } finally {
                java.util.Arrays.fill(kek, (byte) 0);
            }
        }

        private static void requireAes256(int algorithm) throws PGPException {
            if (algorithm != SymmetricKeyAlgorithmTags.AES_256) {
                throw new PGPException("this key is for AES-256, not algorithm " + algorithm);
            }
        }

        private static org.bouncycastle.openpgp.operator.PGPDigestCalculator sha256() {
            try {
                return new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA256);
            } catch (PGPException e) {
                throw new IllegalStateException("the JDK lacks SHA-256", e);
            }
        }
    }
}
