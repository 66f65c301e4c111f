package dev.synapsebackup.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.S2K;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.operator.bc.BcPBEDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider;
import org.junit.jupiter.api.Test;

/** Our S2K against Bouncy Castle's, which GnuPG interop tests already cover. */
class S2kKeysTest {
    private static final int[] HASHES = {HashAlgorithmTags.SHA1, HashAlgorithmTags.SHA224, HashAlgorithmTags.SHA256,
        HashAlgorithmTags.SHA384, HashAlgorithmTags.SHA512};
    private static final int[] CIPHERS = {SymmetricKeyAlgorithmTags.AES_128, SymmetricKeyAlgorithmTags.AES_192,
        SymmetricKeyAlgorithmTags.AES_256};

    @Test
    void sameKeysAsBouncyCastle() throws PGPException {
        Random r = new Random(42);
        String[] passes = {"", "a", "correct horse battery staple", "pässwörd ☃ 𝄞", "x".repeat(70_000)};
        // small counts exercise "at least one whole unit"; 0x60 is gpg's classic 65536; 0xFF the largest
        int[] counts = {0, 1, 0x10, 0x60, 0xFF};
        int cases = 0;
        for (String pass : passes) {
            for (int hash : HASHES) {
                for (int cipher : CIPHERS) {
                    byte[] salt = new byte[8];
                    r.nextBytes(salt);
                    S2K[] s2ks = {
                        new S2K(hash), new S2K(hash, salt),
                        new S2K(hash, salt, counts[r.nextInt(counts.length)]),
                    };
                    for (S2K s2k : s2ks) {
                        assertThat(S2kKeys.supports(s2k, cipher)).isTrue();
                        byte[] ours = S2kKeys.derive(pass.toCharArray(), s2k, cipher);
                        byte[] theirs = bouncyCastle(pass, cipher, s2k);
                        assertThat(ours).as("%s hash %d cipher %d type %d", pass.length(), hash, cipher, s2k.getType())
                                .isEqualTo(theirs);
                        cases++;
                    }
                }
            }
        }
        assertThat(cases).isEqualTo(passes.length * HASHES.length * CIPHERS.length * 3);
    }

    @Test
    void everyCountByteOfSha256ForAes256() throws PGPException {
        byte[] salt = {1, 2, 3, 4, 5, 6, 7, 8};
        for (int c = 0; c <= 0xFF; c += 17) {
            S2K s2k = new S2K(HashAlgorithmTags.SHA256, salt, c);
            assertThat(S2kKeys.derive("pass phrase".toCharArray(), s2k, SymmetricKeyAlgorithmTags.AES_256))
                    .as("count byte %d", c)
                    .isEqualTo(bouncyCastle("pass phrase", SymmetricKeyAlgorithmTags.AES_256, s2k));
        }
    }

    private static byte[] bouncyCastle(String pass, int cipher, S2K s2k) throws PGPException {
        return new BcPBEDataDecryptorFactory(pass.toCharArray(), new BcPGPDigestCalculatorProvider())
                .makeKeyFromPassPhrase(cipher, s2k);
    }

    @Test
    void othersAreLeftToBouncyCastle() {
        assertThat(S2kKeys.supports(new S2K(HashAlgorithmTags.MD5), SymmetricKeyAlgorithmTags.AES_256)).isFalse();
        assertThat(S2kKeys.supports(new S2K(HashAlgorithmTags.SHA256), SymmetricKeyAlgorithmTags.CAST5)).isFalse();
    }
}
