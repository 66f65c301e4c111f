package dev.synapsebackup.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ReadAheadIteratorTest {

    @Test
    void deliversEveryElementInOrderAcrossBatches() {
        for (int n : new int[] {0, 1, 6, 7, 8, 1000}) {
            List<Integer> source = IntStream.range(0, n).boxed().toList();
            List<Integer> seen = new ArrayList<>();
            try (ReadAheadIterator<Integer> it = new ReadAheadIterator<>(source.iterator(), 7, 2, "test-read-ahead")) {
                while (it.hasNext()) {
                    seen.add(it.next());
                }
                assertThat(it.hasNext()).isFalse();
                assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class);
            }
            assertThat(seen).as("n=%d", n).isEqualTo(source);
        }
    }

    @Test
    void aFailureComesAfterTheElementsBeforeIt() {
        AtomicInteger i = new AtomicInteger();
        Iterator<Integer> failing = endless(() -> {
            if (i.get() == 20) {
                throw new IllegalStateException("cannot list media directory /x: Permission denied");
            }
            return i.getAndIncrement();
        });
        List<Integer> seen = new ArrayList<>();
        try (ReadAheadIterator<Integer> it = new ReadAheadIterator<>(failing, 8, 2, "test-read-ahead")) {
            assertThatThrownBy(() -> {
                while (it.hasNext()) {
                    seen.add(it.next());
                }
            }).isInstanceOf(IllegalStateException.class)
                    .hasMessage("cannot list media directory /x: Permission denied");
        }
        assertThat(seen).isEqualTo(IntStream.range(0, 20).boxed().toList());
    }

    @Test
    void anInterruptedConsumerGetsExitCode130() throws Exception {
        Iterator<Integer> slow = endless(() -> {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 0;
        });
        try (ReadAheadIterator<Integer> it = new ReadAheadIterator<>(slow, 1, 1, "test-read-ahead")) {
            Thread.currentThread().interrupt();
            assertThatThrownBy(it::hasNext).isInstanceOfSatisfying(SynapseBackupException.class,
                    e -> assertThat(e.exitCode()).isEqualTo(SynapseBackupException.INTERRUPTED));
            assertThat(Thread.interrupted()).isTrue(); // the flag is kept for the caller
        }
    }

    @Test
    void aCheckedExceptionThrownSneakilyStillReachesTheConsumer() {
        Iterator<Integer> sneaky = endless(
                () -> ReadAheadIteratorTest.<RuntimeException>sneakyThrow(new java.io.IOException("disk gone")));
        try (ReadAheadIterator<Integer> it = new ReadAheadIterator<>(sneaky, 4, 1, "test-read-ahead")) {
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThatThrownBy(it::hasNext)
                    .hasCauseInstanceOf(java.io.IOException.class).hasMessageContaining("disk gone"));
        }
    }

    /** An iterator that never ends, each element from {@code next}. */
    private static <T> Iterator<T> endless(Supplier<T> next) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public T next() {
                return next.get();
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> Integer sneakyThrow(Throwable t) throws E {
        throw (E) t;
    }

    @Test
    void memoryIsBoundedAndCloseStopsTheThread() throws Exception {
        AtomicLong produced = new AtomicLong();
        Iterator<Long> endless = endless(produced::incrementAndGet);
        ReadAheadIterator<Long> it = new ReadAheadIterator<>(endless, 10, 3, "test-read-ahead");
        assertThat(it.next()).isEqualTo(1L);
        // The thread fills what it may, then blocks until the consumer takes a batch.
        Await.until("the read-ahead thread to block", Duration.ofSeconds(60),
                () -> Thread.getAllStackTraces().keySet().stream().anyMatch(
                        t -> t.getName().equals("test-read-ahead") && t.getState() == Thread.State.WAITING));
        // One batch taken, three waiting, one being filled: never more.
        assertThat(produced.get()).isLessThanOrEqualTo(10 + 3 * 10 + 10);
        assertTimeoutPreemptively(Duration.ofSeconds(60), it::close);
        // The thread has ended (so nothing is produced after close).
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("test-read-ahead"));
        assertThatThrownBy(it::hasNext).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
}
