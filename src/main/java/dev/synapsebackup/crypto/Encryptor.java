package dev.synapsebackup.crypto;

import java.io.IOException;
import java.io.OutputStream;
import java.util.function.UnaryOperator;

/**
 * Starts one encrypted message: under a passphrase-derived {@link EncryptionKey} (through
 * {@link OpenPgp#encrypt(OutputStream, EncryptionKey, UnaryOperator)}) or to {@link Recipients}.
 * Closing the returned stream finishes the message and flushes {@code out} without closing it.
 */
@FunctionalInterface
public interface Encryptor {
    /**
     * @param cipherStage decorates the stream that carries the framed plaintext into AES-CFB
     *                    (e.g. to run the cipher on a thread of its own)
     */
    OutputStream encrypt(OutputStream out, UnaryOperator<OutputStream> cipherStage) throws IOException;

    /** Under {@code key}, which must serve this one message only. */
    static Encryptor of(EncryptionKey key) {
        return (out, cipherStage) -> OpenPgp.encrypt(out, key, cipherStage);
    }
}
