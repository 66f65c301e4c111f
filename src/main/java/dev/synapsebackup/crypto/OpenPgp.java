package dev.synapsebackup.crypto;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.BulkReadInputStream;
import dev.synapsebackup.io.SourceTrackingInputStream;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Date;
import java.util.function.UnaryOperator;
import org.apache.commons.io.output.CloseShieldOutputStream;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPCompressedData;
import org.bouncycastle.openpgp.PGPEncryptedData;
import org.bouncycastle.openpgp.PGPEncryptedDataGenerator;
import org.bouncycastle.openpgp.PGPEncryptedDataList;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPLiteralDataGenerator;
import org.bouncycastle.openpgp.PGPMarker;
import org.bouncycastle.openpgp.PGPOnePassSignatureList;
import org.bouncycastle.openpgp.PGPPBEEncryptedData;
import org.bouncycastle.openpgp.PGPSignatureList;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.bc.BcPGPObjectFactory;
import org.bouncycastle.openpgp.operator.PBEDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.PGPDataEncryptorBuilder;
import org.bouncycastle.openpgp.operator.PGPDigestCalculator;
import org.bouncycastle.openpgp.operator.PGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.bc.BcPBEDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.bc.BcPGPDataEncryptorBuilder;
import org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEDataDecryptorFactoryBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEKeyEncryptionMethodGenerator;

/**
 * Passphrase-based OpenPGP (RFC 4880) encryption of backup objects, readable by stock GnuPG.
 *
 * <p>{@link #encrypt(OutputStream, Secret) encrypt} writes exactly one message: a v4 SKESK with
 * iterated+salted S2K (SHA-256, coded count {@value #S2K_COUNT}, i.e. 65,011,712 bytes hashed —
 * the strongest RFC 4880 allows and gpg's own calibrated value on fast machines;
 * {@link EncryptionKey} derives it ahead of time) carrying a random AES-256 session key (gpg shows
 * "seskey 256 bits"), a SEIPD v1 packet with MDC, and an uncompressed binary
 * literal data packet written in 64 KiB partial-length chunks, so sizes need not be known in
 * advance. v6/SEIPD v2 is deliberately not used: GnuPG 2.2 and 2.4 cannot open it.
 *
 * <p>AES comes from the JDK's own provider (SunJCE, which uses AES-NI), in bulk calls: encryption
 * derives OpenPGP's CFB from AES/CBC ({@code AesCfbEncryptorBuilder}, faster than
 * SunJCE's block-at-a-time CFB), optionally on a thread of its own; decryption computes the CFB
 * keystream with AES/ECB ({@code AesCfbDecryptorFactory}). Bouncy Castle's engines are only
 * used for algorithms the JDK lacks when decrypting (e.g. CAST5 from old GnuPG versions). Digests
 * come from the JDK too.
 *
 * <p>{@link #decrypt(InputStream, Secret) decrypt} hands out plaintext <em>before</em> the MDC is
 * checked (that is inherent to streaming); the check happens when the caller reads to EOF. Never
 * stream its output into live data before EOF has been reached without an exception.
 */
public final class OpenPgp {
    /** Coded S2K iteration count (RFC 4880 §3.7.1.3): 0xFF = 65,011,712 bytes hashed. */
    public static final int S2K_COUNT = 0xFF;

    /** Partial-packet buffer size: large packets keep per-packet overhead negligible. */
    static final int PACKET_BUFFER = 1 << 16;

    public static final String WRONG_PASSPHRASE = "wrong passphrase or corrupted backup";
    static final String MDC_FAILED =
            "integrity check failed (MDC): the backup is corrupted or was tampered with";
    static final String TRUNCATED = "the encrypted backup is truncated (unexpected end of data)";
    static final String NOT_OPENPGP =
            "not an OpenPGP passphrase-encrypted message (the data is corrupted or not a backup)";
    static final String NO_MDC = "the encrypted data has no integrity protection (MDC):"
            + " refusing it, since tampering could not be detected";

    /** A message with only public-key recipients, met where the passphrase was to open it. */
    public static final String NO_SKESK = "the message is not encrypted with a passphrase (no SKESK packet):"
            + " it is encrypted to public keys, which only --identity with one of their secret keys opens";

    private static final SecureRandom RANDOM = new SecureRandom();

    private OpenPgp() {
    }

    /**
     * Starts an encrypted message on {@code out}, under a key derived from {@code passphrase} with
     * a fresh salt. Closing the returned stream finishes the message (literal data, MDC,
     * encrypted packet) and flushes {@code out} but does not close it.
     */
    public static OutputStream encrypt(OutputStream out, Secret passphrase) throws IOException {
        return encrypt(out, EncryptionKey.derive(passphrase));
    }

    /** As {@link #encrypt(OutputStream, Secret)}, under a key already derived (one per message). */
    public static OutputStream encrypt(OutputStream out, EncryptionKey key) throws IOException {
        return encrypt(out, key, new AesCfbEncryptorBuilder(RANDOM, UnaryOperator.identity()));
    }

    /**
     * As {@link #encrypt(OutputStream, EncryptionKey)}, with {@code cipherStage} decorating the
     * stream that carries the plaintext (literal data packets, already hashed for the MDC) into
     * AES-CFB. Passing {@code s -> new PipelinedOutputStream(s, …)} runs the cipher on its own
     * thread: the caller's thread then only frames the packets and computes the MDC.
     */
    public static OutputStream encrypt(OutputStream out, EncryptionKey key, UnaryOperator<OutputStream> cipherStage)
            throws IOException {
        return encrypt(out, key, new AesCfbEncryptorBuilder(RANDOM, cipherStage));
    }

    /** As {@link #encrypt(OutputStream, Secret)}; {@code jce} picks the cipher implementation. */
    static OutputStream encrypt(OutputStream out, Secret passphrase, boolean jce)
            throws IOException {
        return encrypt(out, EncryptionKey.derive(passphrase), jce
                ? new AesCfbEncryptorBuilder(RANDOM, UnaryOperator.identity())
                : new BcPGPDataEncryptorBuilder(SymmetricKeyAlgorithmTags.AES_256)
                        .setWithIntegrityPacket(true).setSecureRandom(RANDOM));
    }

    private static OutputStream encrypt(OutputStream out, EncryptionKey key, PGPDataEncryptorBuilder dataEncryptor)
            throws IOException {
        PGPEncryptedDataGenerator encGen = new PGPEncryptedDataGenerator(dataEncryptor);
        OutputStream encOut;
        try {
            encGen.addMethod(key.method());
            // Bouncy Castle closes the stream it writes to when the message is finished: not the caller's
            encOut = encGen.open(CloseShieldOutputStream.wrap(out), new byte[PACKET_BUFFER]);
        } catch (PGPException e) {
            throw new IOException("cannot start OpenPGP encryption: " + e.getMessage(), e);
        }
        PGPLiteralDataGenerator litGen = new PGPLiteralDataGenerator();
        // whole seconds: OpenPGP dates have no finer resolution
        Date now = new Date(System.currentTimeMillis() / 1000 * 1000);
        OutputStream litOut = litGen.open(encOut, PGPLiteralData.BINARY, "", now,
                new byte[PACKET_BUFFER]);
        return new MessageOutputStream(litOut, litGen, encGen, out);
    }

    /** Encrypts a small object (a manifest) in memory. */
    public static byte[] encrypt(byte[] plaintext, Secret passphrase) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(plaintext.length + 256);
        try (OutputStream out = encrypt(buf, passphrase)) {
            out.write(plaintext);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buf.toByteArray();
    }

    /**
     * Decrypts a small object (a manifest) in memory, MDC checked.
     *
     * @throws IntegrityException wrong passphrase, corrupted, truncated or not OpenPGP
     */
    public static byte[] decrypt(byte[] ciphertext, Secret passphrase) {
        try (InputStream in = decrypt(new ByteArrayInputStream(ciphertext), passphrase)) {
            return in.readAllBytes();
        } catch (IOException e) {
            // a byte array cannot fail as a source: anything else is malformed data
            throw new IntegrityException(NOT_OPENPGP + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens a passphrase-encrypted OpenPGP message (ours, or one made by {@code gpg --symmetric}
     * with any of its usual options: compressed or not, SHA-1 or SHA-2 S2K, AES or older
     * ciphers). Messages without MDC are refused.
     *
     * <p>The returned stream yields the literal data; reading it to EOF verifies the MDC and
     * throws {@link IntegrityException} if it fails. Malformed or truncated data also throws
     * {@link IntegrityException}; an IOException from {@code in} itself is passed on unchanged.
     * Closing the returned stream closes {@code in}.
     *
     * @throws IntegrityException wrong passphrase, not OpenPGP, no MDC, or malformed headers
     */
    public static InputStream decrypt(InputStream in, Secret passphrase) throws IOException {
        SourceTrackingInputStream source = new SourceTrackingInputStream(in);
        try {
            return open(source, passphrase);
        } catch (IOException | RuntimeException e) {
            try {
                source.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static InputStream open(SourceTrackingInputStream source, Secret passphrase)
            throws IOException {
        // until the encrypted packet is found, malformed data means "not OpenPGP"
        String failure = NOT_OPENPGP;
        try {
            InputStream decoded = PGPUtil.getDecoderStream(
                    new BufferedInputStream(source, PACKET_BUFFER));
            BcPGPObjectFactory factory = new BcPGPObjectFactory(decoded);
            Object obj = nextObject(factory);
            while (obj instanceof PGPMarker) {
                obj = nextObject(factory);
            }
            if (!(obj instanceof PGPEncryptedDataList list)) {
                throw new IntegrityException(NOT_OPENPGP);
            }
            failure = WRONG_PASSPHRASE;
            PGPPBEEncryptedData pbe = null;
            InputStream clear = null;
            PGPException lastFailure = null;
            for (PGPEncryptedData data : list) {
                if (!(data instanceof PGPPBEEncryptedData candidate)) {
                    continue; // a public-key recipient: not ours to open
                }
                if (!candidate.isIntegrityProtected()) {
                    throw new IntegrityException(NO_MDC);
                }
                char[] pass = passphrase.reveal();
                try {
                    clear = candidate.getDataStream(decryptorFactory(candidate, pass));
                    pbe = candidate;
                    break;
                } catch (PGPException e) {
                    lastFailure = e; // wrong passphrase for this SKESK: try the next one
                } finally {
                    Arrays.fill(pass, '\0');
                }
            }
            if (pbe == null) {
                if (lastFailure == null) {
                    throw new IntegrityException(NO_SKESK);
                }
                throw new IntegrityException(WRONG_PASSPHRASE, lastFailure);
            }
            InputStream literal = literalStream(new BcPGPObjectFactory(clear));
            return new PlaintextInputStream(literal, pbe, source);
        } catch (IOException e) {
            throw translate(e, source, failure);
        } catch (PGPException e) {
            throw new IntegrityException(failure, e);
        } catch (RuntimeException e) {
            throw translate(e, source, failure);
        }
    }

    static Object nextObject(BcPGPObjectFactory factory) throws IOException {
        Object obj = factory.nextObject();
        if (obj == null) {
            throw new IntegrityException(NOT_OPENPGP + " (no OpenPGP packets found)");
        }
        return obj;
    }

    /** Unwraps compressed data and skips one-pass signatures down to the literal data. */
    static InputStream literalStream(BcPGPObjectFactory factory)
            throws IOException, PGPException {
        for (int depth = 0; depth < 8; depth++) {
            Object obj = factory.nextObject();
            while (obj instanceof PGPOnePassSignatureList || obj instanceof PGPSignatureList
                    || obj instanceof PGPMarker) {
                obj = factory.nextObject();
            }
            if (obj instanceof PGPLiteralData lit) {
                return lit.getDataStream();
            }
            if (obj instanceof PGPCompressedData compressed) {
                factory = new BcPGPObjectFactory(compressed.getDataStream());
                continue;
            }
            throw new IntegrityException(WRONG_PASSPHRASE
                    + " (decrypted data holds no literal data packet)");
        }
        throw new IntegrityException(NOT_OPENPGP + " (compressed packets nested too deeply)");
    }

    private static PBEDataDecryptorFactory decryptorFactory(PGPPBEEncryptedData data, char[] pass)
            throws PGPException {
        if (AesCfbDecryptorFactory.isAes(data.getAlgorithm())) {
            PGPDigestCalculatorProvider digests = jcaDigests();
            return new AesCfbDecryptorFactory(pass, digests,
                    new JcePBEDataDecryptorFactoryBuilder(digests).build(pass));
        }
        // ciphers the JDK lacks (CAST5, Twofish, Camellia, ...): Bouncy Castle's own engines
        return new BcPBEDataDecryptorFactory(pass, new BcPGPDigestCalculatorProvider());
    }

    private static PGPDigestCalculatorProvider jcaDigests() throws PGPException {
        return new JcaPGPDigestCalculatorProviderBuilder().build();
    }

    /** Maps a parser failure to an integrity failure unless the source itself failed. */
    static IOException translate(IOException e, SourceTrackingInputStream source, String what) {
        if (source.failure() != null) {
            return e; // the disk or network failed: not a verdict about the data
        }
        if (source.runtimeFailure() instanceof IntegrityException ie) {
            throw ie;
        }
        if (e instanceof EOFException) {
            throw new IntegrityException(TRUNCATED, e);
        }
        throw new IntegrityException(what + " (" + e.getMessage() + ")", e);
    }

    /**
     * Maps an unchecked parser failure (bcpg throws them on some malformed packets) to an
     * integrity failure, unless it is one already or the source itself threw it.
     */
    static RuntimeException translate(RuntimeException e, SourceTrackingInputStream source, String what) {
        if (e instanceof IntegrityException || source.runtimeFailure() == e) {
            return e;
        }
        return new IntegrityException(what + " (" + e.getMessage() + ")", e);
    }

    /** Writes the literal data; close() finishes all packets and flushes the target, but leaves it open. */
    static final class MessageOutputStream extends OutputStream {
        private final OutputStream literal;
        private final PGPLiteralDataGenerator litGen;
        private final PGPEncryptedDataGenerator encGen;
        private final OutputStream target;
        private boolean closed;

        MessageOutputStream(OutputStream literal, PGPLiteralDataGenerator litGen,
                PGPEncryptedDataGenerator encGen, OutputStream target) {
            this.literal = literal;
            this.litGen = litGen;
            this.encGen = encGen;
            this.target = target;
        }

        @Override
        public void write(int b) throws IOException {
            checkOpen();
            literal.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            checkOpen();
            literal.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            // flushing mid-message would only force small partial packets: nothing to do
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            litGen.close();
            encGen.close();
            target.flush();
        }

        private void checkOpen() throws IOException {
            if (closed) {
                throw new IOException("encrypted stream already closed");
            }
        }
    }

    /** Yields the plaintext and checks the MDC at EOF. */
    static final class PlaintextInputStream extends BulkReadInputStream {
        private final InputStream literal;
        private final PGPEncryptedData pbe;
        private final SourceTrackingInputStream source;
        private boolean verified;

        PlaintextInputStream(InputStream literal, PGPEncryptedData pbe,
                SourceTrackingInputStream source) {
            this.literal = literal;
            this.pbe = pbe;
            this.source = source;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (verified) {
                return -1;
            }
            int n;
            try {
                n = literal.read(b, off, len);
                if (n < 0) {
                    verify();
                }
            } catch (IOException e) {
                throw translate(e, source, MDC_FAILED);
            } catch (RuntimeException e) {
                throw translate(e, source, MDC_FAILED);
            }
            return n;
        }

        private void verify() throws IOException {
            boolean ok;
            try {
                ok = pbe.verify();
            } catch (PGPException e) {
                throw new IntegrityException(MDC_FAILED, e);
            }
            if (!ok) {
                throw new IntegrityException(MDC_FAILED);
            }
            verified = true;
        }

        @Override
        public void close() throws IOException {
            source.close();
        }
    }
}
