package dev.synapsebackup.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class ReadAheadInputStreamTest {
    @Test
    void deliversEveryByteInOrder() throws IOException {
        byte[] data = new byte[5 * 1024 * 1024 + 17];
        new Random(7).nextBytes(data);
        try (InputStream in = new ReadAheadInputStream(new ByteArrayInputStream(data), 64 * 1024, 3, "t")) {
            byte[] first = new byte[1];
            assertThat(in.read()).isEqualTo(data[0] & 0xff);
            first[0] = (byte) 0;
            assertThat(in.readAllBytes()).isEqualTo(java.util.Arrays.copyOfRange(data, 1, data.length));
            assertThat(in.read()).isEqualTo(-1);
        }
    }

    @Test
    void failureArrivesAfterTheBytesBeforeIt() throws IOException {
        InputStream failing = new InputStream() {
            int n;

            @Override
            public int read() throws IOException {
                if (n == 1000) {
                    throw new IOException("disk on fire");
                }
                return n++ & 0xff;
            }
        };
        try (InputStream in = new ReadAheadInputStream(failing, 4096, 2, "t")) {
            byte[] got = new byte[1000];
            assertThat(in.readNBytes(got, 0, 1000)).isEqualTo(1000);
            assertThat(got[999]).isEqualTo((byte) 999);
            assertThatThrownBy(in::read).isInstanceOf(IOException.class).hasMessage("disk on fire");
        }
    }

    @Test
    void closeEarlyStopsTheThreadAndClosesTheSource() throws IOException {
        AtomicBoolean closed = new AtomicBoolean();
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                return 1;
            }

            @Override
            public void close() {
                closed.set(true);
            }
        };
        InputStream in = new ReadAheadInputStream(endless, 1024, 2, "t");
        assertThat(in.read()).isEqualTo(1);
        in.close();
        assertThat(closed).isTrue();
    }
}
