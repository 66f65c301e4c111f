package dev.synapsebackup.crypto;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.Secret;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * What opens the backup objects of a run: the passphrase ({@link #passphrase(Secret)}) or a
 * secret key ({@link Identity}). Either way the returned stream yields the literal data and checks
 * the MDC at EOF, as {@link OpenPgp#decrypt(InputStream, Secret)} describes.
 */
public interface Opener {
    /**
     * Opens one OpenPGP message.
     *
     * @throws IntegrityException the key does not open it, or it is not OpenPGP, or it is damaged
     */
    InputStream decrypt(InputStream in) throws IOException;

    /** Decrypts a small object (a manifest) in memory, MDC checked. */
    default byte[] decrypt(byte[] ciphertext) {
        try (InputStream in = decrypt(new ByteArrayInputStream(ciphertext))) {
            return in.readAllBytes();
        } catch (IOException e) {
            // a byte array cannot fail as a source: anything else is malformed data
            throw new IntegrityException(OpenPgp.NOT_OPENPGP + ": " + e.getMessage(), e);
        }
    }

    /** The passphrase opens the objects (SKESK). */
    static Opener passphrase(Secret passphrase) {
        return new Passphrase(passphrase);
    }

    /** The passphrase scheme's opener; it keeps the passphrase for API callers that ask for it. */
    record Passphrase(Secret passphrase) implements Opener {
        public Passphrase {
            Objects.requireNonNull(passphrase, "passphrase");
        }

        @Override
        public InputStream decrypt(InputStream in) throws IOException {
            return OpenPgp.decrypt(in, passphrase);
        }
    }
}
