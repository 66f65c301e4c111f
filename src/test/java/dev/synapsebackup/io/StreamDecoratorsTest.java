package dev.synapsebackup.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StreamDecoratorsTest {
    // sha256("abc") from FIPS 180-2
    private static final String ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    @Test
    void countingStreamsCountBulkAndSingleBytesAndSkips() throws IOException {
        byte[] data = new byte[100_000];
        new Random(1).nextBytes(data);
        CountingInputStream in = new CountingInputStream(new ByteArrayInputStream(data));
        assertThat(in.read()).isEqualTo(data[0] & 0xff);
        assertThat(in.skip(999)).isEqualTo(999);
        in.mark(100);
        assertThat(in.read(new byte[50])).isEqualTo(50);
        in.reset();
        assertThat(in.count()).isEqualTo(1000);
        in.transferTo(OutputStream.nullOutputStream());
        assertThat(in.count()).isEqualTo(100_000);

        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        CountingOutputStream out = new CountingOutputStream(sink);
        out.write(7);
        out.write(data, 10, 5000);
        assertThat(out.count()).isEqualTo(5001).isEqualTo(sink.size());
    }

    @Test
    void sha256HexOfKnownVector() {
        assertThat(Sha256.hexOf("abc".getBytes(StandardCharsets.US_ASCII))).isEqualTo(ABC);
    }

    @Test
    void sourceTrackingTellsSourceFailuresApart() throws IOException {
        SourceTrackingInputStream ok = new SourceTrackingInputStream(new ByteArrayInputStream(new byte[10]));
        ok.readAllBytes();
        assertThat(ok.failure()).isNull();
        IOException boom = new IOException("boom");
        SourceTrackingInputStream bad = new SourceTrackingInputStream(new InputStream() {
            @Override
            public int read() throws IOException {
                throw boom;
            }
        });
        assertThatThrownBy(bad::read).isSameAs(boom);
        assertThat(bad.failure()).isSameAs(boom);
    }
}
