package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.RepositoryLockedException;
import dev.synapsebackup.repository.RepositoryLock.LockMode;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.S3ProxyServer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The repository lock in both protocols, against a local directory and a real S3 server. */
class RepositoryLockTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    private static int buckets;

    @TempDir
    Path dir;

    private final List<Repository> opened = new ArrayList<>();

    @AfterEach
    void closeRepositories() {
        opened.forEach(Repository::close);
    }

    static Stream<Arguments> storesAndModes() {
        return Stream.of(
                Arguments.of("local", LockMode.CONDITIONAL_PUT),
                Arguments.of("local", LockMode.WRITE_THEN_LIST),
                Arguments.of("s3", LockMode.CONDITIONAL_PUT),
                Arguments.of("s3", LockMode.WRITE_THEN_LIST));
    }

    private Repository repo(String store) {
        Repository r;
        if (store.equals("local")) {
            r = new LocalRepository(dir);
        } else {
            String bucket;
            synchronized (RepositoryLockTest.class) {
                bucket = "lock-" + (++buckets);
            }
            S3.createBucket(bucket);
            r = S3Repository.builder(S3.parameters(bucket).path("prod/synapse").build()).build();
        }
        opened.add(r);
        return r;
    }

    /** Longer than the store's timestamp resolution (S3: one second). */
    private static Duration settle(String store) {
        return store.equals("local") ? Duration.ofMillis(30) : Duration.ofMillis(1100);
    }

    private static RepositoryLock.Builder lock(Repository repo, String store, LockMode mode, MutableClock clock) {
        return RepositoryLock.builder(repo, "create").mode(mode).settle(settle(store)).clock(clock)
                .refreshInterval(Duration.ZERO);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("storesAndModes")
    void aSecondRunFailsWithExit6NamingTheHolder(String store, LockMode mode) {
        Repository repo = repo(store);
        MutableClock clock = new MutableClock(Instant.parse("2024-05-01T10:00:00Z"));
        RepositoryLock first = lock(repo, store, mode, clock).owner("host-a", 4242).acquire();
        assertThat(repo.list()).as("a lock is not a backup").isEmpty();
        assertThat(RepositoryLock.list(repo)).singleElement().satisfies(l -> {
            assertThat(l.host()).isEqualTo("host-a");
            assertThat(l.pid()).isEqualTo(4242);
            assertThat(l.purpose()).isEqualTo("create");
        });
        clock.advance(Duration.ofMinutes(10));
        assertThatThrownBy(() -> lock(repo, store, mode, clock).owner("host-b", 7).acquire())
                .isInstanceOfSatisfying(RepositoryLockedException.class, e -> assertThat(e.exitCode()).isEqualTo(6))
                .hasMessage("repository is locked by create on host-a (pid 4242) since 2024-05-01T10:00:00Z, last refreshed"
                        + " 2024-05-01T10:00:00Z; if that run is dead, run \"synapse-backup unlock\" (stale after 30 min)");
        first.close();
        assertThat(RepositoryLock.list(repo)).isEmpty();
        try (RepositoryLock second = lock(repo, store, mode, clock).owner("host-b", 7).acquire()) {
            assertThat(second.info().host()).isEqualTo("host-b");
        }
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("storesAndModes")
    void aStaleLockIsTakenOverOnlyAfterItsTimeout(String store, LockMode mode) {
        Repository repo = repo(store);
        MutableClock clock = new MutableClock(Instant.parse("2024-05-01T10:00:00Z"));
        RepositoryLock dead = lock(repo, store, mode, clock).owner("host-a", 1).acquire(); // never refreshes
        clock.advance(Duration.ofMinutes(29));
        assertThatThrownBy(() -> lock(repo, store, mode, clock).owner("host-b", 2).acquire())
                .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("host-a (pid 1)");
        clock.advance(Duration.ofMinutes(1).plusSeconds(1));
        RepositoryLock taker = lock(repo, store, mode, clock).owner("host-b", 2).acquire();
        assertThat(RepositoryLock.list(repo)).singleElement().satisfies(l -> assertThat(l.host()).isEqualTo("host-b"));
        // The old holder finds out and fails instead of deleting the new holder's lock.
        assertThatThrownBy(dead::checkStillHeld).isInstanceOf(RepositoryLockedException.class)
                .hasMessageContaining("lost the repository lock");
        assertThatThrownBy(dead::close).isInstanceOf(RepositoryLockedException.class);
        assertThat(RepositoryLock.list(repo)).singleElement().satisfies(l -> assertThat(l.host()).isEqualTo("host-b"));
        taker.checkStillHeld();
        taker.close();
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("storesAndModes")
    void refreshingKeepsALongRunsLockFresh(String store, LockMode mode) throws Exception {
        Repository repo = repo(store);
        MutableClock clock = new MutableClock(Instant.parse("2024-05-01T10:00:00Z"));
        try (RepositoryLock held = lock(repo, store, mode, clock).refreshInterval(Duration.ofMillis(20)).acquire()) {
            for (int i = 1; i <= 4; i++) {
                clock.advance(Duration.ofMinutes(20));
                Instant expected = clock.instant();
                Await.until("the refresh to " + expected, Duration.ofSeconds(60),
                        () -> RepositoryLock.list(repo).get(0).refreshed().equals(expected));
            }
            // 80 minutes after the start, the lock is still live: nobody may take it.
            assertThatThrownBy(() -> lock(repo, store, mode, clock).acquire())
                    .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("last refreshed 2024-05-01T11:20:00Z");
            held.checkStillHeld();
        }
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("storesAndModes")
    void concurrentAttemptsHaveExactlyOneWinner(String store, LockMode mode) throws Exception {
        Repository repo = repo(store);
        int rounds = store.equals("s3") && mode == LockMode.WRITE_THEN_LIST ? 5 : 20;
        int racers = 3;
        ExecutorService pool = Executors.newFixedThreadPool(racers);
        try {
            for (int round = 0; round < rounds; round++) {
                MutableClock clock = new MutableClock(Instant.parse("2024-05-01T10:00:00Z"));
                CountDownLatch start = new CountDownLatch(1);
                List<Future<RepositoryLock>> results = new ArrayList<>();
                for (int i = 0; i < racers; i++) {
                    int racer = i;
                    results.add(pool.submit(() -> {
                        start.await();
                        try {
                            return lock(repo, store, mode, clock).owner("racer-" + racer, racer).acquire();
                        } catch (RepositoryLockedException e) {
                            return null;
                        }
                    }));
                }
                start.countDown();
                List<RepositoryLock> winners = new ArrayList<>();
                for (Future<RepositoryLock> f : results) {
                    RepositoryLock l = f.get();
                    if (l != null) {
                        winners.add(l);
                    }
                }
                assertThat(winners).as("round %d", round).hasSize(1);
                assertThat(RepositoryLock.list(repo)).as("round %d: the losers left nothing", round).singleElement()
                        .satisfies(l -> assertThat(l.token()).isEqualTo(winners.get(0).info().token()));
                winners.get(0).close();
                assertThat(RepositoryLock.list(repo)).isEmpty();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("storesAndModes")
    void unlockRemovesOnlyStaleLocksUnlessForced(String store, LockMode mode) {
        Repository repo = repo(store);
        MutableClock clock = new MutableClock(Instant.parse("2024-05-01T10:00:00Z"));
        lock(repo, store, mode, clock).owner("host-a", 1).acquire();
        clock.advance(Duration.ofMinutes(20));
        assertThat(RepositoryLock.removeStale(repo, clock, RepositoryLock.DEFAULT_STALE_AFTER)).isZero();
        assertThat(RepositoryLock.list(repo)).hasSize(1);
        clock.advance(Duration.ofMinutes(11));
        assertThat(RepositoryLock.removeStale(repo, clock, RepositoryLock.DEFAULT_STALE_AFTER)).isEqualTo(1);
        assertThat(RepositoryLock.list(repo)).isEmpty();

        lock(repo, store, mode, clock).owner("host-b", 2).acquire();
        assertThat(RepositoryLock.removeStale(repo, clock, RepositoryLock.DEFAULT_STALE_AFTER)).isZero();
        assertThat(RepositoryLock.removeAll(repo)).isEqualTo(1);
        assertThat(RepositoryLock.list(repo)).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("storesAndModes")
    void theTwoProtocolsExcludeEachOther(String store, LockMode mode) {
        Repository repo = repo(store);
        MutableClock clock = new MutableClock(Instant.parse("2024-05-01T10:00:00Z"));
        LockMode other = mode == LockMode.CONDITIONAL_PUT ? LockMode.WRITE_THEN_LIST : LockMode.CONDITIONAL_PUT;
        try (RepositoryLock held = lock(repo, store, mode, clock).owner("host-a", 1).acquire()) {
            assertThatThrownBy(() -> lock(repo, store, other, clock).owner("host-b", 2).acquire())
                    .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("host-a (pid 1)");
            assertThat(RepositoryLock.list(repo)).singleElement().satisfies(l -> assertThat(l.host()).isEqualTo("host-a"));
            held.checkStillHeld();
        }
    }
}
