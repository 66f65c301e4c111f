package dev.synapsebackup.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.crypto.Opener;
import org.junit.jupiter.api.Test;

/** The public record keeps the accessor API callers had before secret keys could open backups. */
class RestoreOptionsTest {
    @Test
    @SuppressWarnings("deprecation") // the accessor under test
    void passphraseIsStillThereForThePassphraseScheme() {
        RestoreOptions withPassphrase = new RestoreOptions(Secret.of("pw"), null, false, false, false, null);
        assertThat(withPassphrase.passphrase()).isEqualTo(Secret.of("pw"));
        assertThat(withPassphrase.opener().decrypt(OpenPgp.encrypt(new byte[] {7}, Secret.of("pw")))).containsExactly(7);
        Opener secretKey = in -> in;
        assertThat(new RestoreOptions(secretKey, null, false, false, false, null, false).passphrase()).isNull();
    }
}
