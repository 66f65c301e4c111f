package dev.synapsebackup.crypto;

import dev.synapsebackup.ConfigException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
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
import org.bouncycastle.bcpg.SignatureSubpacketTags;
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
import org.bouncycastle.openpgp.operator.bc.BcPGPContentVerifierBuilderProvider;
import org.bouncycastle.openpgp.operator.bc.BcPublicKeyKeyEncryptionMethodGenerator;

/**
 * The public keys that every object is encrypted to (config {@code encryption.recipients}), as
 * {@code gpg --export --armor} writes them. Each message is one v3 PKESK per recipient, carrying
 * a fresh random AES-256 session key, then SEIPD v1 with MDC around uncompressed literal data: the
 * same data packets as the passphrase scheme, so GnuPG 2.2 opens them ({@code gpg --decrypt} with a
 * secret key imported). Making a backup needs no secret at all.
 *
 * <p>Each key file may hold several keys; each key is a recipient, through its newest valid
 * encryption-capable key (usually the subkey gpg marks {@code [E]}), as gpg picks it. Only
 * signatures made by the primary key that verify count: its user-id self-signatures, each subkey's
 * binding signature, and revocations; a subkey without a valid binding is never encrypted to.
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
     * file: unreadable, not an OpenPGP public key (a secret key included), a key without a valid
     * self-signature, a key that is revoked or expired, or that has no valid encryption-capable key.
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
        String name = where + ", key " + fpr;
        if (primary.getVersion() != 4) {
            throw new ConfigException(name + " is a version " + primary.getVersion()
                    + " key: only version 4 keys (what GnuPG 2.2 and 2.4 make) are supported");
        }
        // Flags, expiry and revocation come only from signatures made by the primary key that verify:
        // anyone can append packets to a key file, and an unsigned or foreign subkey must never
        // receive the backups.
        SelfSignatures self = selfSignatures(primary, now);
        if (self.newest == null) {
            throw new ConfigException(name + " has no valid self-signature (no user id or key signature made by the"
                    + " key itself verifies): export the key again with gpg --export --armor " + fpr);
        }
        if (revoked(primary, PGPSignature.KEY_REVOCATION, s -> s.verifyCertification(primary), primary, now)) {
            throw new ConfigException(name + " is revoked");
        }
        Instant primaryExpiry = expiry(primary, self.newest);
        if (primaryExpiry != null && !now.isBefore(primaryExpiry)) {
            throw new ConfigException(name + " expired on " + primaryExpiry);
        }
        PGPPublicKey best = null;
        if (primary.isEncryptionKey() && canEncrypt(primary, self.newestWithFlags)) {
            best = primary;
        }
        for (PGPPublicKey k : ring) {
            if (k == primary || !k.isEncryptionKey()) {
                continue;
            }
            PGPSignature binding = newestValid(k.getSignaturesOfType(PGPSignature.SUBKEY_BINDING),
                    s -> s.verifyCertification(primary, k), primary, now);
            if (binding == null || !canEncrypt(k, binding)
                    || revoked(k, PGPSignature.SUBKEY_REVOCATION, s -> s.verifyCertification(primary, k), primary, now)) {
                continue;
            }
            Instant subExpiry = expiry(k, binding);
            if (subExpiry != null && !now.isBefore(subExpiry)) {
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
        return new Recipient(file, fpr, self.userId, best);
    }

    /** How one signature is checked once initialised with the signer's key. */
    private interface SignatureCheck {
        boolean verify(PGPSignature s) throws PGPException;
    }

    /**
     * The primary key's verified self-signatures: the newest (for expiry), the newest carrying key
     * flags, and the user id they certify (preferring the one flagged primary).
     */
    private record SelfSignatures(PGPSignature newest, PGPSignature newestWithFlags, String userId) {
    }

    private static SelfSignatures selfSignatures(PGPPublicKey primary, Instant now) {
        List<PGPSignature> valid = new ArrayList<>();
        String userId = null;
        boolean primaryUserId = false;
        for (Iterator<byte[]> ids = primary.getRawUserIDs(); ids.hasNext();) {
            byte[] id = ids.next();
            Iterator<PGPSignature> sigs = primary.getSignaturesForID(id);
            List<PGPSignature> certs = new ArrayList<>();
            List<PGPSignature> revocations = new ArrayList<>();
            for (; sigs != null && sigs.hasNext();) {
                PGPSignature s = sigs.next();
                if (s.getSignatureType() == PGPSignature.CERTIFICATION_REVOCATION) {
                    revocations.add(s);
                } else if (s.isCertification()) {
                    certs.add(s);
                }
            }
            PGPSignature cert = newestValid(certs.iterator(), s -> s.verifyCertification(id, primary), primary, now);
            PGPSignature revocation = newestValid(revocations.iterator(), s -> s.verifyCertification(id, primary), primary, now);
            if (cert == null || (revocation != null && !revocation.getCreationTime().before(cert.getCreationTime()))) {
                continue;
            }
            valid.add(cert);
            boolean flagged = cert.getHashedSubPackets() != null && cert.getHashedSubPackets().isPrimaryUserID();
            if (userId == null || (flagged && !primaryUserId)) {
                userId = new String(id, StandardCharsets.UTF_8);
                primaryUserId = flagged;
            }
        }
        for (Iterator<PGPSignature> it = primary.getSignaturesOfType(PGPSignature.DIRECT_KEY); it.hasNext();) {
            PGPSignature s = it.next();
            if (valid(s, x -> x.verifyCertification(primary), primary, now)) {
                valid.add(s);
            }
        }
        PGPSignature newest = null;
        PGPSignature newestWithFlags = null;
        for (PGPSignature s : valid) {
            if (newest == null || s.getCreationTime().after(newest.getCreationTime())) {
                newest = s;
            }
            if (hasKeyFlags(s) && (newestWithFlags == null || s.getCreationTime().after(newestWithFlags.getCreationTime()))) {
                newestWithFlags = s;
            }
        }
        return new SelfSignatures(newest, newestWithFlags, userId);
    }

    /** The newest of {@code sigs} that the primary key made and that verifies, or null. */
    private static PGPSignature newestValid(Iterator<PGPSignature> sigs, SignatureCheck check, PGPPublicKey primary,
            Instant now) {
        PGPSignature newest = null;
        while (sigs.hasNext()) {
            PGPSignature s = sigs.next();
            if ((newest == null || s.getCreationTime().after(newest.getCreationTime())) && valid(s, check, primary, now)) {
                newest = s;
            }
        }
        return newest;
    }

    private static boolean revoked(PGPPublicKey k, int type, SignatureCheck check, PGPPublicKey primary, Instant now) {
        return newestValid(k.getSignaturesOfType(type), check, primary, now) != null;
    }

    /** Verified with the primary key and not itself expired; a malformed signature is just not valid. */
    private static boolean valid(PGPSignature s, SignatureCheck check, PGPPublicKey primary, Instant now) {
        try {
            s.init(new BcPGPContentVerifierBuilderProvider(), primary);
            if (!check.verify(s)) {
                return false;
            }
        } catch (PGPException | RuntimeException e) {
            return false;
        }
        PGPSignatureSubpacketVector v = s.getHashedSubPackets();
        long lifetime = v == null ? 0 : v.getSignatureExpirationTime();
        return lifetime <= 0 || now.isBefore(s.getCreationTime().toInstant().plusSeconds(lifetime));
    }

    private static boolean hasKeyFlags(PGPSignature s) {
        return s.getHashedSubPackets() != null && s.getHashedSubPackets().hasSubpacket(SignatureSubpacketTags.KEY_FLAGS);
    }

    /** The key flags of the (verified) signature, if it has any; none: by algorithm. */
    private static boolean canEncrypt(PGPPublicKey k, PGPSignature sig) {
        if (sig == null || !hasKeyFlags(sig)) {
            return k.isEncryptionKey();
        }
        return (sig.getHashedSubPackets().getKeyFlags() & (KeyFlags.ENCRYPT_COMMS | KeyFlags.ENCRYPT_STORAGE)) != 0;
    }

    /** When {@code k} expires by the (verified) signature {@code sig}, or null for never. */
    private static Instant expiry(PGPPublicKey k, PGPSignature sig) {
        PGPSignatureSubpacketVector v = sig.getHashedSubPackets();
        long valid = v == null ? 0 : v.getKeyExpirationTime();
        return valid > 0 ? k.getCreationTime().toInstant().plusSeconds(valid) : null;
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
