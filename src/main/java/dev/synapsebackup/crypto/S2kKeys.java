package dev.synapsebackup.crypto;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.S2K;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;

/**
 * OpenPGP's string-to-key functions (RFC 4880 §3.7.1: simple, salted, iterated and salted) for
 * AES keys, computed with few, large digest updates.
 *
 * <p>Bouncy Castle computes the same function by writing the salt and the passphrase to the
 * digest a few bytes at a time: five million calls for the 65 MB that an iterated S2K with count
 * byte 0xFF hashes. In a fresh JVM that loop runs as interpreted and lightly compiled code for
 * most of its length, several times slower than hashing a 64 KiB buffer full of repetitions of
 * salt and passphrase (same bytes, same order). A backup run derives a key for the parent's
 * manifest and one for its own objects, on its critical path.
 */
final class S2kKeys {
    private static final int BUFFER = 1 << 16;

    private S2kKeys() {
    }

    /** Whether {@link #derive} handles this S2K and cipher; the caller falls back to Bouncy Castle if not. */
    @SuppressWarnings("deprecation") // simple and salted S2K: deprecated for writing; other tools' objects may use them
    static boolean supports(S2K s2k, int cipher) {
        int type = s2k.getType();
        return (type == S2K.SIMPLE || type == S2K.SALTED || type == S2K.SALTED_AND_ITERATED)
                && jcaName(s2k.getHashAlgorithm()) != null && keyLength(cipher) > 0;
    }

    /**
     * The key for {@code cipher} (an AES variant) derived from {@code passphrase} (encoded as
     * UTF-8, as GnuPG and Bouncy Castle do) by {@code s2k}.
     */
    @SuppressWarnings("deprecation") // S2K.SIMPLE: read, never written
    static byte[] derive(char[] passphrase, S2K s2k, int cipher) {
        if (!supports(s2k, cipher)) {
            throw new IllegalArgumentException("unsupported S2K or cipher for the fast path");
        }
        int keyLength = keyLength(cipher);
        byte[] pass = utf8(passphrase);
        byte[] salt = s2k.getType() == S2K.SIMPLE ? new byte[0] : s2k.getIV();
        byte[] unit = new byte[salt.length + pass.length];
        System.arraycopy(salt, 0, unit, 0, salt.length);
        System.arraycopy(pass, 0, unit, salt.length, pass.length);
        Arrays.fill(pass, (byte) 0);
        // At least one whole unit is hashed, whatever the count says (RFC 4880 §3.7.1.3).
        long count = s2k.getType() == S2K.SALTED_AND_ITERATED
                ? Math.max(s2k.getIterationCount(), unit.length) : unit.length;
        // Whole units only, so that every pass over the buffer continues the sequence.
        byte[] buf = new byte[Math.max(1, BUFFER / Math.max(1, unit.length)) * Math.max(1, unit.length)];
        if (unit.length > 0) {
            for (int off = 0; off < buf.length; off += unit.length) {
                System.arraycopy(unit, 0, buf, off, unit.length);
            }
        }
        try {
            MessageDigest md = MessageDigest.getInstance(jcaName(s2k.getHashAlgorithm()));
            byte[] key = new byte[keyLength];
            // A key longer than the digest takes more contexts, each preloaded with one more zero byte.
            for (int filled = 0, context = 0; filled < keyLength; context++) {
                md.reset();
                md.update(new byte[context]);
                for (long left = unit.length == 0 ? 0 : count; left > 0; ) {
                    int n = (int) Math.min(left, buf.length);
                    md.update(buf, 0, n);
                    left -= n;
                }
                byte[] d = md.digest();
                int n = Math.min(d.length, keyLength - filled);
                System.arraycopy(d, 0, key, filled, n);
                filled += n;
                Arrays.fill(d, (byte) 0);
            }
            return key;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + jcaName(s2k.getHashAlgorithm()), e);
        } finally {
            Arrays.fill(unit, (byte) 0);
            Arrays.fill(buf, (byte) 0);
        }
    }

    private static byte[] utf8(char[] chars) {
        ByteBuffer b = StandardCharsets.UTF_8.encode(CharBuffer.wrap(chars));
        byte[] out = new byte[b.remaining()];
        b.get(out);
        if (b.hasArray()) {
            Arrays.fill(b.array(), (byte) 0);
        }
        return out;
    }

    private static String jcaName(int hashAlgorithm) {
        return switch (hashAlgorithm) {
            case HashAlgorithmTags.SHA1 -> "SHA-1";
            case HashAlgorithmTags.SHA224 -> "SHA-224";
            case HashAlgorithmTags.SHA256 -> "SHA-256";
            case HashAlgorithmTags.SHA384 -> "SHA-384";
            case HashAlgorithmTags.SHA512 -> "SHA-512";
            default -> null;
        };
    }

    private static int keyLength(int cipher) {
        return switch (cipher) {
            case SymmetricKeyAlgorithmTags.AES_128 -> 16;
            case SymmetricKeyAlgorithmTags.AES_192 -> 24;
            case SymmetricKeyAlgorithmTags.AES_256 -> 32;
            default -> 0;
        };
    }
}
