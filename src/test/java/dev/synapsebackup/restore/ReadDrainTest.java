package dev.synapsebackup.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.io.Sha256;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ReadDrainTest {
    @Test
    void drainCountsAndHashesEveryByte() throws IOException {
        // sha256("abc") from FIPS 180-2
        assertThat(ChainReader.Read.drain(new ByteArrayInputStream("abc".getBytes(StandardCharsets.US_ASCII))))
                .isEqualTo(new ChainReader.Read(3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        byte[] data = new byte[300_000];
        new Random(3).nextBytes(data);
        assertThat(ChainReader.Read.drain(new ByteArrayInputStream(data)))
                .isEqualTo(new ChainReader.Read(data.length, Sha256.hexOf(data)));
    }
}
