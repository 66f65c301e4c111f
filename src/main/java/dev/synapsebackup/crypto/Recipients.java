package dev.synapsebackup.crypto;

import dev.synapsebackup.ConfigException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.apache.commons.io.output.CloseShieldOutputStream;
import org.bouncycastle.bcpg.sig.KeyFlags;
import org.bouncycastle.openpgp.PGPEncryptedDataGenerator;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPLiteralDataGenerator;
import org.bouncycastle.openpgp.PGPMarker;
import org.bouncycastle.openpgp.PGPPublicKey;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPSecretKeyRing;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.PGPSignatureSubpacketVector;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.bc.BcPGPObjectFactory;
import org.bouncycastle.openpgp.operator.bc.BcPublicKeyKeyEncryptionMethodGenerator;

/**
 * The public keys that every object is encrypted to (config {@code encryption.recipients}), as
 * {@code gpg --export --armor} writes them. Each message is one v3 PKESK per recipient, carrying
 * a fresh random AES-256 session key, then SEIPD v1 with MDC around uncompressed literal data: the
 * same data packets as the passphrase scheme, so GnuPG 2.2 opens them ({@code gpg --decrypt} with a
 * secret key imported). Making a backup needs no secret at all.
 *
 * <p>Each key file may hold several keys; each key is a recipient, through its newest valid
 * encryption-capable key (usually the subkey gpg marks {@code [E]}), as gpg picks it.
 */
public final class Recipients implements Encryptor {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** One recipient: the key as the admin knows it (primary fingerprint) and the key encrypted to. */
    public record Recipient(Path file, String fingerprint, String userId, PGPPublicKey encryptionKey) {
        /** The key id of the encryption key, as it appears in the PKESK (16 hex digits). */
        public String keyId() {
            return keyIdHex(encryptionKey.getKeyID());
        }

        @Override
        public String toString() {
            return fingerprint + (userId == null ? "" : " (" + userId + ")");
        }
    }

    private final List<Recipient> recipients;

    private Recipients(List<Recipient> recipients) {
        this.recipients = List.copyOf(recipients);
    }

    /**
     * Reads the key files; every problem is a {@link ConfigException} naming {@code key} and the
     * file: unreadable, not an OpenPGP public key (a secret key included), a key that is revoked or
     * expired, or that has no valid encryption-capable key.
     */
    public static Recipients load(List<Path> files, String key) {
        if (files.isEmpty()) {
            throw new ConfigException("\"" + key + "\" is empty: list at least one public key file");
        }
        List<Recipient> all = new ArrayList<>();
        Instant now = Instant.now();
        for (Path f : files) {
            String where = "\"" + key + "\": " + f;
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(f);
            } catch (IOException e) {
                throw new ConfigException(where + " cannot be read (" + e + ")", e);
            }
            List<PGPPublicKeyRing> rings = rings(bytes, where);
            for (PGPPublicKeyRing ring : rings) {
                all.add(recipient(f, ring, where, now));
            }
        }
        return new Recipients(all);
    }

    private static List<PGPPublicKeyRing> rings(byte[] bytes, String where) {
        List<PGPPublicKeyRing> rings = new ArrayList<>();
        try (InputStream in = PGPUtil.getDecoderStream(new java.io.ByteArrayInputStream(bytes))) {
            BcPGPObjectFactory factory = new BcPGPObjectFactory(in);
            Object o;
            while ((o = factory.nextObject()) != null) {
                if (o instanceof PGPPublicKeyRing ring) {
                    rings.add(ring);
                } else if (o instanceof PGPSecretKeyRing) {
                    throw new ConfigException(where + " holds a secret key: the host needs only the public key"
                            + " (gpg --export --armor KEY), and the secret key must stay off it");
                } else if (!(o instanceof PGPMarker)) {
                    throw new ConfigException(where + " is not an OpenPGP public key (found "
                            + o.getClass().getSimpleName() + "; export it with gpg --export --armor KEY)");
                }
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof ConfigException ce) {
                throw ce;
            }
            throw new ConfigException(where + " is not an OpenPGP public key (" + e.getMessage()
                    + "; export it with gpg --export --armor KEY)", e);
        }
        if (rings.isEmpty()) {
            throw new ConfigException(where + " holds no OpenPGP public key (export it with gpg --export --armor KEY)");
        }
        return rings;
    }

    private static Recipient recipient(Path file, PGPPublicKeyRing ring, String where, Instant now) {
        PGPPublicKey primary = ring.getPublicKey();
        String fpr = HexFormat.of().withUpperCase().formatHex(primary.getFingerprint());
        Iterator<String> ids = primary.getUserIDs();
        String uid = ids.hasNext() ? ids.next() : null;
        String name = where + ", key " + fpr;
        if (primary.getVersion() != 4) {
            throw new ConfigException(name + " is a version " + primary.getVersion()
                    + " key: only version 4 keys (what GnuPG 2.2 and 2.4 make) are supported");
        }
        if (primary.hasRevocation()) {
            throw new ConfigException(name + " is revoked");
        }
        if (expired(primary, now)) {
            throw new ConfigException(name + " expired on " + expiry(primary));
        }
        PGPPublicKey best = null;
        for (PGPPublicKey k : ring) {
            if (!k.isEncryptionKey() || !canEncrypt(k) || (k != primary && k.hasRevocation()) || expired(k, now)) {
                continue;
            }
            if (best == null || !k.getCreationTime().before(best.getCreationTime())) {
                best = k;
            }
        }
        if (best == null) {
            throw new ConfigException(name + " has no valid encryption-capable key (a subkey marked [E] in"
                    + " gpg --list-keys; add one with gpg --quick-add-key " + fpr + " cv25519)");
        }
        return new Recipient(file, fpr, uid, best);
    }

    /** The key flags of the key's newest self-signature or binding, if any say so; no flags: by algorithm. */
    private static boolean canEncrypt(PGPPublicKey k) {
        PGPSignature newest = null;
        for (Iterator<PGPSignature> it = k.getSignatures(); it.hasNext();) {
            PGPSignature s = it.next();
            int t = s.getSignatureType();
            boolean binding = t == PGPSignature.SUBKEY_BINDING || t == PGPSignature.DIRECT_KEY
                    || t == PGPSignature.POSITIVE_CERTIFICATION || t == PGPSignature.CASUAL_CERTIFICATION
                    || t == PGPSignature.NO_CERTIFICATION || t == PGPSignature.DEFAULT_CERTIFICATION;
            if (binding && s.getHashedSubPackets() != null && s.getHashedSubPackets().getKeyFlags() != 0
                    && (newest == null || s.getCreationTime().after(newest.getCreationTime()))) {
                newest = s;
            }
        }
        if (newest == null) {
            return true;
        }
        PGPSignatureSubpacketVector v = newest.getHashedSubPackets();
        return (v.getKeyFlags() & (KeyFlags.ENCRYPT_COMMS | KeyFlags.ENCRYPT_STORAGE)) != 0;
    }

    private static boolean expired(PGPPublicKey k, Instant now) {
        long valid = k.getValidSeconds();
        return valid > 0 && !now.isBefore(k.getCreationTime().toInstant().plusSeconds(valid));
    }

    private static Instant expiry(PGPPublicKey k) {
        return k.getCreationTime().toInstant().plusSeconds(k.getValidSeconds());
    }

    /** The recipients, in the order configured. */
    public List<Recipient> list() {
        return recipients;
    }

    /** The primary keys' fingerprints (40 hex digits), in the order configured. */
    public List<String> fingerprints() {
        return recipients.stream().map(Recipient::fingerprint).toList();
    }

    /** The key ids of the keys encrypted to, as {@link MessageKeys#of} reports them. */
    public Set<String> keyIds() {
        Set<String> ids = new TreeSet<>();
        recipients.forEach(r -> ids.add(r.keyId()));
        return ids;
    }

    static String keyIdHex(long keyId) {
        return String.format(Locale.ROOT, "%016X", keyId);
    }

    /**
     * Starts a message to every recipient on {@code out}, with a new session key. Closing the
     * returned stream finishes the message and flushes {@code out} but does not close it.
     * {@code cipherStage} decorates the stream into AES-CFB as in
     * {@link OpenPgp#encrypt(OutputStream, EncryptionKey, UnaryOperator)}.
     */
    @Override
    public OutputStream encrypt(OutputStream out, UnaryOperator<OutputStream> cipherStage) throws IOException {
        PGPEncryptedDataGenerator encGen = new PGPEncryptedDataGenerator(new AesCfbEncryptorBuilder(RANDOM, cipherStage));
        OutputStream encOut;
        try {
            for (Recipient r : recipients) {
                encGen.addMethod(new BcPublicKeyKeyEncryptionMethodGenerator(r.encryptionKey()).setSecureRandom(RANDOM));
            }
            // Bouncy Castle closes the stream it writes to when the message is finished: not the caller's
            encOut = encGen.open(CloseShieldOutputStream.wrap(out), new byte[OpenPgp.PACKET_BUFFER]);
        } catch (PGPException e) {
            throw new IOException("cannot start OpenPGP encryption: " + e.getMessage(), e);
        }
        PGPLiteralDataGenerator litGen = new PGPLiteralDataGenerator();
        // whole seconds: OpenPGP dates have no finer resolution
        Date now = new Date(System.currentTimeMillis() / 1000 * 1000);
        OutputStream litOut = litGen.open(encOut, PGPLiteralData.BINARY, "", now, new byte[OpenPgp.PACKET_BUFFER]);
        return new OpenPgp.MessageOutputStream(litOut, litGen, encGen, out);
    }

    /** Encrypts a small object (a manifest) in memory. */
    public byte[] encrypt(byte[] plaintext) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(plaintext.length + 1024);
        try (OutputStream out = encrypt(buf, UnaryOperator.identity())) {
            out.write(plaintext);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buf.toByteArray();
    }

    @Override
    public String toString() {
        return "Recipients" + fingerprints();
    }
}
