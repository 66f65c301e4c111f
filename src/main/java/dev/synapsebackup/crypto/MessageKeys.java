package dev.synapsebackup.crypto;

import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import java.util.TreeSet;
import org.bouncycastle.openpgp.PGPEncryptedData;
import org.bouncycastle.openpgp.PGPEncryptedDataList;
import org.bouncycastle.openpgp.PGPMarker;
import org.bouncycastle.openpgp.PGPPBEEncryptedData;
import org.bouncycastle.openpgp.PGPPublicKeyEncryptedData;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.bc.BcPGPObjectFactory;

/**
 * Who can open a message, read from its session key packets alone, without any key: whether a
 * passphrase can (an SKESK) and the key ids of its public-key recipients (PKESKs). Tells a
 * repository's scheme apart without a secret, so that one repository keeps one scheme.
 *
 * @param passphrase whether the message has an SKESK
 * @param keyIds     the PKESKs' key ids as 16 upper-case hex digits ({@code 0000000000000000} for
 *                   a hidden recipient)
 */
public record MessageKeys(boolean passphrase, Set<String> keyIds) {
    /** Reads the session key packets at the start of {@code in} (the rest is not read). */
    public static MessageKeys of(InputStream in) throws IOException {
        BcPGPObjectFactory factory = new BcPGPObjectFactory(PGPUtil.getDecoderStream(in));
        Object o;
        try {
            o = factory.nextObject();
            while (o instanceof PGPMarker) {
                o = factory.nextObject();
            }
        } catch (RuntimeException e) {
            throw new IOException(OpenPgp.NOT_OPENPGP + " (" + e.getMessage() + ")", e);
        }
        if (!(o instanceof PGPEncryptedDataList list)) {
            throw new IOException(OpenPgp.NOT_OPENPGP);
        }
        boolean pass = false;
        Set<String> ids = new TreeSet<>();
        for (PGPEncryptedData d : list) {
            if (d instanceof PGPPBEEncryptedData) {
                pass = true;
            } else if (d instanceof PGPPublicKeyEncryptedData pk) {
                ids.add(Recipients.keyIdHex(pk.getKeyIdentifier().getKeyId()));
            }
        }
        return new MessageKeys(pass, Set.copyOf(ids));
    }

    /** Whether only public keys open it. */
    public boolean publicKeyOnly() {
        return !passphrase && !keyIds.isEmpty();
    }
}
