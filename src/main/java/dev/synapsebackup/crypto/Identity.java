package dev.synapsebackup.crypto;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.SourceTrackingInputStream;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPEncryptedData;
import org.bouncycastle.openpgp.PGPEncryptedDataList;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPKeyPair;
import org.bouncycastle.openpgp.PGPMarker;
import org.bouncycastle.openpgp.PGPPBEEncryptedData;
import org.bouncycastle.openpgp.PGPPublicKeyEncryptedData;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPSecretKey;
import org.bouncycastle.openpgp.PGPSecretKeyRing;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.bc.BcPGPObjectFactory;
import org.bouncycastle.openpgp.operator.PGPDataDecryptor;
import org.bouncycastle.openpgp.operator.bc.BcPBESecretKeyDecryptorBuilder;
import org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.bc.BcPublicKeyDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;

/**
 * A secret key that opens objects encrypted to public keys ({@code --identity FILE}): an OpenPGP
 * secret key file as {@code gpg --export-secret-keys} writes it, armored or binary, protected by a
 * passphrase or not. Every secret encryption-capable key in the file is unlocked once, when it is
 * loaded, so that a wrong passphrase is reported before anything is read or written.
 */
public final class Identity implements Opener {
    /** The first words of the message when an object is not encrypted to this identity. */
    public static final String NOT_A_RECIPIENT = "the identity does not open this backup";

    private final Path file;
    /** Key id (16 hex digits) to its unlocked private key, in file order. */
    private final Map<String, PGPKeyPair> keys;
    private final List<String> fingerprints;

    private Identity(Path file, Map<String, PGPKeyPair> keys, List<String> fingerprints) {
        this.file = file;
        this.keys = keys;
        this.fingerprints = List.copyOf(fingerprints);
    }

    /**
     * Reads {@code file} and unlocks its secret encryption keys. {@code passphrase} is asked only
     * when one of them is protected.
     *
     * @throws ConfigException the file cannot be read, is not a secret key, or holds no secret
     *         encryption key
     * @throws IntegrityException the passphrase does not unlock the key
     */
    public static Identity load(Path file, Supplier<Secret> passphrase) {
        String where = "--identity " + file;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ConfigException(where + " cannot be read (" + e + ")", e);
        }
        List<PGPSecretKeyRing> rings = new ArrayList<>();
        try (InputStream in = PGPUtil.getDecoderStream(new ByteArrayInputStream(bytes))) {
            BcPGPObjectFactory factory = new BcPGPObjectFactory(in);
            Object o;
            while ((o = factory.nextObject()) != null) {
                if (o instanceof PGPSecretKeyRing ring) {
                    rings.add(ring);
                } else if (o instanceof PGPPublicKeyRing) {
                    throw new ConfigException(where + " is a public key: --identity needs the secret key"
                            + " (gpg --export-secret-keys KEY)");
                } else if (!(o instanceof PGPMarker)) {
                    throw new ConfigException(where + " is not an OpenPGP secret key (found " + o.getClass().getSimpleName() + ")");
                }
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof ConfigException ce) {
                throw ce;
            }
            throw new ConfigException(where + " is not an OpenPGP secret key (" + e.getMessage() + ")", e);
        } finally {
            // an unprotected key's secret in the clear: not left for the heap to keep (the parsed rings hold their own copy)
            Arrays.fill(bytes, (byte) 0);
        }
        List<PGPSecretKey> candidates = new ArrayList<>();
        List<String> fingerprints = new ArrayList<>();
        for (PGPSecretKeyRing ring : rings) {
            fingerprints.add(HexFormat.of().withUpperCase().formatHex(ring.getPublicKey().getFingerprint()));
            for (PGPSecretKey k : ring) {
                if (k.getPublicKey().isEncryptionKey() && !k.isPrivateKeyEmpty()) {
                    candidates.add(k);
                }
            }
        }
        if (candidates.isEmpty()) {
            throw new ConfigException(where + " holds no secret encryption key"
                    + (rings.isEmpty() ? "" : " (keys " + fingerprints + ": a secret subkey marked [E] is needed)"));
        }
        boolean protectedKey = candidates.stream()
                .anyMatch(k -> k.getKeyEncryptionAlgorithm() != SymmetricKeyAlgorithmTags.NULL);
        Secret secret = protectedKey ? passphrase.get() : null;
        char[] pass = secret == null ? new char[0] : secret.reveal();
        Map<String, PGPKeyPair> keys = new LinkedHashMap<>();
        try {
            for (PGPSecretKey k : candidates) {
                try {
                    keys.put(Recipients.keyIdHex(k.getKeyID()), k.extractKeyPair(
                            new BcPBESecretKeyDecryptorBuilder(new BcPGPDigestCalculatorProvider()).build(pass)));
                } catch (PGPException e) {
                    throw new IntegrityException("wrong passphrase for the identity " + file + " (key "
                            + Recipients.keyIdHex(k.getKeyID()) + " cannot be unlocked: " + e.getMessage() + ")", e);
                }
            }
        } finally {
            Arrays.fill(pass, '\0');
        }
        return new Identity(file, keys, fingerprints);
    }

    /** The primary keys' fingerprints. */
    public List<String> fingerprints() {
        return fingerprints;
    }

    /** The key ids of the secret encryption keys. */
    public Set<String> keyIds() {
        return new TreeSet<>(keys.keySet());
    }

    /**
     * Opens a message encrypted to this identity (ours, or one made by {@code gpg --encrypt -r};
     * compressed or not). Messages without MDC are refused; the MDC is checked at EOF.
     *
     * @throws IntegrityException not encrypted to this identity, not OpenPGP, no MDC, malformed
     */
    @Override
    public InputStream decrypt(InputStream in) throws IOException {
        SourceTrackingInputStream source = new SourceTrackingInputStream(in);
        try {
            return open(source);
        } catch (IOException | RuntimeException e) {
            try {
                source.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private InputStream open(SourceTrackingInputStream source) throws IOException {
        String failure = OpenPgp.NOT_OPENPGP;
        try {
            BcPGPObjectFactory factory = new BcPGPObjectFactory(PGPUtil.getDecoderStream(
                    new BufferedInputStream(source, OpenPgp.PACKET_BUFFER)));
            Object obj = OpenPgp.nextObject(factory);
            while (obj instanceof PGPMarker) {
                obj = OpenPgp.nextObject(factory);
            }
            if (!(obj instanceof PGPEncryptedDataList list)) {
                throw new IntegrityException(OpenPgp.NOT_OPENPGP);
            }
            failure = NOT_A_RECIPIENT;
            Set<String> recipients = new TreeSet<>();
            boolean passphrase = false;
            PGPException lastFailure = null;
            for (PGPEncryptedData data : list) {
                if (data instanceof PGPPBEEncryptedData) {
                    passphrase = true;
                    continue;
                }
                if (!(data instanceof PGPPublicKeyEncryptedData pk)) {
                    continue;
                }
                String id = Recipients.keyIdHex(pk.getKeyIdentifier().getKeyId());
                recipients.add(id);
                // key id 0: a hidden recipient (gpg --throw-keyids), which any of our keys may be
                List<PGPKeyPair> tries = pk.getKeyIdentifier().getKeyId() == 0 ? List.copyOf(keys.values())
                        : keys.containsKey(id) ? List.of(keys.get(id)) : List.of();
                for (PGPKeyPair key : tries) {
                    if (!pk.isIntegrityProtected()) {
                        throw new IntegrityException(OpenPgp.NO_MDC);
                    }
                    try {
                        InputStream clear = pk.getDataStream(new FastAes(key));
                        InputStream literal = OpenPgp.literalStream(new BcPGPObjectFactory(clear));
                        return new OpenPgp.PlaintextInputStream(literal, pk, source);
                    } catch (PGPException e) {
                        lastFailure = e;
                    }
                }
            }
            if (lastFailure != null) {
                throw new IntegrityException(NOT_A_RECIPIENT + " (" + file + ": " + lastFailure.getMessage() + ")",
                        lastFailure);
            }
            throw new IntegrityException(NOT_A_RECIPIENT + ": " + file + " holds keys " + keys.keySet()
                    + (recipients.isEmpty() ? "" : ", the backup is encrypted to keys " + recipients)
                    + (passphrase ? (recipients.isEmpty() ? ", the backup is" : " and") + " encrypted with a passphrase"
                            + " (use the passphrase, not --identity)" : ""));
        } catch (IOException e) {
            throw OpenPgp.translate(e, source, failure);
        } catch (RuntimeException e) {
            throw OpenPgp.translate(e, source, failure);
        }
    }

    @Override
    public String toString() {
        return "Identity[" + file + ", keys " + keys.keySet() + "]";
    }

    /** Bouncy Castle's key recovery; AES data decrypted as {@link AesCfbDecryptorFactory} does it, several times faster. */
    private static final class FastAes extends BcPublicKeyDataDecryptorFactory {
        FastAes(PGPKeyPair key) {
            super(key);
        }

        @Override
        public PGPDataDecryptor createDataDecryptor(boolean withIntegrityPacket, int encAlgorithm, byte[] key)
                throws PGPException {
            if (!withIntegrityPacket || !AesCfbDecryptorFactory.isAes(encAlgorithm)) {
                return super.createDataDecryptor(withIntegrityPacket, encAlgorithm, key);
            }
            return AesCfbDecryptorFactory.fastAes(key,
                    new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA1));
        }
    }
}
