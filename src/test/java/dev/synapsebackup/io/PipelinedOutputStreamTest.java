package dev.synapsebackup.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.testing.Await;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PipelinedOutputStreamTest {

    @Test
    void passesEveryByteInOrderAndClosesTheTarget() throws IOException {
        byte[] data = new byte[1_000_003];
        new Random(3).nextBytes(data);
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger largestWrite = new AtomicInteger();
        ByteArrayOutputStream sink = new ByteArrayOutputStream() {
            @Override
            public synchronized void write(byte[] b, int off, int len) {
                largestWrite.accumulateAndGet(len, Math::max);
                super.write(b, off, len);
            }

            @Override
            public void close() {
                closed.set(true);
            }
        };
        PipelinedOutputStream out = new PipelinedOutputStream(sink, 4096, 3, "test-pipe");
        out.write(data[0]);
        out.write(data, 1, 99_999);
        Random sizes = new Random(4);
        int off = 100_000;
        while (off < data.length) {
            int n = Math.min(data.length - off, sizes.nextInt(20_000));
            out.write(data, off, n);
            off += n;
        }
        out.close();
        out.close(); // idempotent
        assertThat(sink.toByteArray()).isEqualTo(data);
        assertThat(closed).isTrue();
        assertThat(largestWrite.get()).isEqualTo(4096);
        assertThatThrownBy(() -> out.write(1)).isInstanceOf(IOException.class).hasMessageContaining("closed");
    }

    @Test
    void flushWaitsUntilTheTargetHasEverything() throws IOException {
        AtomicInteger flushes = new AtomicInteger();
        ByteArrayOutputStream sink = new ByteArrayOutputStream() {
            @Override
            public void flush() {
                flushes.incrementAndGet();
            }
        };
        try (PipelinedOutputStream out = new PipelinedOutputStream(sink, 1024, 2, "test-pipe")) {
            out.write(new byte[5000]);
            out.flush();
            assertThat(sink.size()).isEqualTo(5000);
            assertThat(flushes.get()).isEqualTo(1);
        }
    }

    @Test
    void aFailureOfTheTargetReachesTheWriterAndLeavesTheTargetUnclosed() {
        AtomicBoolean closed = new AtomicBoolean();
        OutputStream failing = new OutputStream() {
            private int written;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                written += len;
                if (written > 10_000) {
                    throw new IOException("disk full on /backup");
                }
            }

            @Override
            public void close() {
                closed.set(true);
            }
        };
        PipelinedOutputStream out = new PipelinedOutputStream(failing, 1000, 2, "test-pipe");
        assertThatThrownBy(() -> {
            for (int i = 0; i < 1000; i++) {
                out.write(new byte[1000]);
            }
        }).isInstanceOf(IOException.class).hasMessageContaining("disk full on /backup");
        assertThatThrownBy(out::close).isInstanceOf(IOException.class).hasMessageContaining("disk full on /backup");
        assertThat(closed).isFalse();
    }

    @Test
    void cancelWaitsForTheWriteInProgressAndDiscardsTheRest() throws Exception {
        CountDownLatch inWrite = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger writes = new AtomicInteger();
        AtomicBoolean writing = new AtomicBoolean();
        OutputStream slow = new OutputStream() {
            @Override
            public void write(int b) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void write(byte[] b, int off, int len) {
                writing.set(true);
                writes.incrementAndGet();
                inWrite.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                writing.set(false);
            }
        };
        PipelinedOutputStream out = new PipelinedOutputStream(slow, 100, 4, "test-pipe");
        out.write(new byte[350]); // 3 full buffers handed over; the thread blocks in the first
        assertThat(inWrite.await(10, TimeUnit.SECONDS)).isTrue();
        Thread canceller = new Thread(out::cancel);
        canceller.start();
        Await.until("cancel to block", Duration.ofSeconds(60), () -> canceller.getState() == Thread.State.WAITING
                || canceller.getState() == Thread.State.TIMED_WAITING || canceller.getState() == Thread.State.BLOCKED);
        assertThat(canceller.isAlive()).as("cancel waits for the write in progress").isTrue();
        assertThat(writing).isTrue();
        release.countDown();
        canceller.join(10_000);
        assertThat(canceller.isAlive()).isFalse();
        assertThat(writing).isFalse();
        assertThat(writes.get()).as("queued buffers are discarded").isEqualTo(1);
        assertThatThrownBy(() -> out.write(1)).isInstanceOf(IOException.class);
    }
}
