package dev.synapsebackup.repository;

import dev.synapsebackup.RepositoryLockedException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The exclusive repository lock taken by {@code create}, {@code delete} and {@code prune}: an
 * object under {@code locks/} (never listed as a backup) that names the host, pid, purpose and
 * start time of the run holding it, and a random token. While the run lasts a daemon thread
 * rewrites its {@code refreshed} time (every 5 minutes by default); a lock not refreshed for
 * {@link #DEFAULT_STALE_AFTER 30 minutes} is stale and the next run takes it over, and so is at
 * once a lock of this machine whose process is gone ({@link LockInfo#isDeadLocalRun()}). A lock
 * object is removed on every failure after it was written.
 *
 * <p>Two protocols ({@link LockMode}):
 * <ul>
 *   <li>{@link LockMode#CONDITIONAL_PUT}: one object {@value #EXCLUSIVE_KEY}, created with
 *       {@link Repository#putIfAbsent} (S3 {@code If-None-Match: *}, an exclusive create on a local
 *       disk). Whoever creates it holds the lock.</li>
 *   <li>{@link LockMode#WRITE_THEN_LIST}, for stores without conditional writes: each run writes
 *       its own {@code locks/<token>} (state {@code pending}), lists {@code locks/}, waits a
 *       settle time longer than the store's timestamp resolution, lists again, and holds the lock
 *       only if no other live lock is {@code held} or older (by the store's last-modified time,
 *       then by key). It then rewrites its object with state {@code held}. Two racing runs see
 *       each other in at least one of their listings, so at most one of them wins; a loser
 *       deletes its object.</li>
 * </ul>
 * {@link LockMode#AUTO} (the default) uses the conditional put unless the repository reports
 * that it does not support it ({@link Repository#supportsConditionalPut()}), which an S3
 * repository learns from a 501 or from a probe that finds {@code If-None-Match: *} ignored; it
 * then switches to write-then-list within the same acquisition.
 *
 * <p>Remaining races, both needing a lock that is already stale: taking over a stale lock
 * re-reads it and deletes it only if it still holds the stale token, but another run can take
 * it over between that read and the delete, and its fresh lock is then deleted; and a run whose
 * refresh thread stalled for 30 minutes can overwrite a lock another run took over meanwhile.
 * In both cases the run that lost its lock notices at its next refresh or
 * {@link #checkStillHeld()} and fails.
 *
 * <p>This class is the held lock: refreshed while the run lasts, checked, released. Taking it is
 * {@link LockAcquisition}; the stored format is {@link LockRecord}; when a lock is stale is
 * {@link LockLiveness}.
 */
public final class RepositoryLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryLock.class);

    /** Key of the lock object of {@link LockMode#CONDITIONAL_PUT}. */
    public static final String EXCLUSIVE_KEY = BackupId.LOCKS_PREFIX + "exclusive";
    /** A lock not refreshed for this long is stale. */
    public static final Duration DEFAULT_STALE_AFTER = Duration.ofMinutes(30);
    /** How often a held lock is refreshed. */
    public static final Duration DEFAULT_REFRESH_INTERVAL = Duration.ofMinutes(5);
    /** Wait between the two listings of {@link LockMode#WRITE_THEN_LIST}: above S3's 1 s timestamps. */
    public static final Duration DEFAULT_SETTLE = Duration.ofMillis(1500);

    /** How the lock is taken. */
    public enum LockMode {
        /** Conditional put if the repository supports it, else write-then-list. */
        AUTO,
        /** One {@value RepositoryLock#EXCLUSIVE_KEY} object created with {@link Repository#putIfAbsent}. */
        CONDITIONAL_PUT,
        /** A {@code locks/<token>} object per run; the oldest live one wins. */
        WRITE_THEN_LIST
    }

    /**
     * One lock object as stored.
     *
     * @param key          its key ({@code locks/…})
     * @param host         host name of the run holding it
     * @param pid          its process id
     * @param purpose      what it is doing ({@code create}, {@code prune}, …)
     * @param started      when it took the lock
     * @param refreshed    when it last refreshed the lock
     * @param token        random token identifying the holder
     * @param state        {@code held}, or {@code pending} while a write-then-list run is deciding
     * @param lastModified the store's last-modified time of the object
     * @param machine      the holder's boot id and pid namespace, or null (older locks, other systems)
     * @param processStart when the holder's process started, or null
     * @param processStartTicks the holder's start in clock ticks since boot ({@code /proc/<pid>/stat}
     *                     field 22, which a step of the wall clock does not move), or 0 if unknown
     */
    public record LockInfo(String key, String host, long pid, String purpose, Instant started, Instant refreshed,
                           String token, String state, Instant lastModified, String machine, Instant processStart,
                           long processStartTicks) {
        /** A lock that does not record its machine and its process's start time. */
        public LockInfo(String key, String host, long pid, String purpose, Instant started, Instant refreshed,
                        String token, String state, Instant lastModified) {
            this(key, host, pid, purpose, started, refreshed, token, state, lastModified, null, null, 0);
        }

        /** A lock that does not record its process's start in clock ticks. */
        public LockInfo(String key, String host, long pid, String purpose, Instant started, Instant refreshed,
                        String token, String state, Instant lastModified, String machine, Instant processStart) {
            this(key, host, pid, purpose, started, refreshed, token, state, lastModified, machine, processStart, 0);
        }

        /**
         * Whether the holder has not refreshed it for longer than {@code staleAfter} at {@code now},
         * or is a run of this machine whose process is gone ({@link #isDeadLocalRun()}).
         */
        public boolean isStale(Instant now, Duration staleAfter) {
            return LockLiveness.isStale(this, now, staleAfter);
        }

        /**
         * Whether the lock names this machine (same host name, boot id and pid namespace)
         * and a process that no longer runs: killed ({@code kill -9}) or crashed, so it is stale
         * at once. A live process with that pid that started at another time than the one the
         * lock records is a reused pid, not the holder.
         */
        public boolean isDeadLocalRun() {
            return LockLiveness.isDeadLocalRun(this);
        }

        /** {@code <purpose> on <host> (pid <pid>) since <started>, last refreshed <refreshed>}. */
        public String describe() {
            return purpose + " on " + host + " (pid " + pid + (isDeadLocalRun() ? ", no longer running" : "")
                    + ") since " + started + ", last refreshed " + refreshed;
        }

        boolean held() {
            return !"pending".equals(state);
        }
    }

    private final Repository repo;
    private final String key;
    private final Clock clock;
    private final Duration staleAfter;
    private final LockInfo initial;
    private final ScheduledExecutorService refresher;
    private Instant lastRefresh;
    private RepositoryListing listing;
    private String lost;
    private boolean closed;

    RepositoryLock(Repository repo, String key, LockInfo info, Clock clock, Duration staleAfter, Duration refreshInterval) {
        this.repo = repo;
        this.key = key;
        this.clock = clock;
        this.staleAfter = staleAfter;
        this.initial = info;
        this.lastRefresh = info.refreshed();
        if (refreshInterval.isZero() || refreshInterval.isNegative()) {
            refresher = null;
        } else {
            refresher = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "repository-lock-refresh");
                t.setDaemon(true);
                return t;
            });
            long ms = refreshInterval.toMillis();
            refresher.scheduleWithFixedDelay(this::refresh, ms, ms, TimeUnit.MILLISECONDS);
        }
    }

    /** Takes the lock with the defaults: system clock, stale after 30 minutes, refreshed every 5. */
    public static RepositoryLock acquire(Repository repo, String purpose) {
        return builder(repo, purpose).acquire();
    }

    /**
     * Takes the lock.
     *
     * @param repo       the repository
     * @param purpose    what the run does, shown to a run that finds the lock taken
     * @param clock      source of the times written into the lock and of "now" for staleness
     * @param staleAfter how long without refresh makes a lock stale
     * @throws RepositoryLockedException (exit 6) if another live run holds it, naming that run
     */
    public static RepositoryLock acquire(Repository repo, String purpose, Clock clock, Duration staleAfter) {
        return builder(repo, purpose).clock(clock).staleAfter(staleAfter).acquire();
    }

    /** A builder for the less common settings (refresh interval, mode, settle time, owner). */
    public static Builder builder(Repository repo, String purpose) {
        return new Builder(repo, purpose);
    }

    /** The lock as this run wrote it. */
    public LockInfo info() {
        return initial;
    }

    /** Keeps the listing the acquisition took once this lock existed (see {@link #takeListing()}). */
    synchronized void listedWhenTaken(RepositoryListing l) {
        this.listing = l;
    }

    /**
     * The repository's listing that taking the lock made, once: taken after this lock existed
     * and no other was live, it is the repository as this run holds it, without the data
     * objects' metadata ({@link Repository#listingWithoutMetadata()}), and saves the run a listing
     * of its own. Empty if the protocol made none (write-then-list), or it was taken already: it
     * describes the repository before this run wrote anything.
     */
    public synchronized Optional<RepositoryListing> takeListing() {
        Optional<RepositoryListing> l = Optional.ofNullable(listing);
        listing = null;
        return l;
    }

    /** The key of this run's lock object. */
    public String key() {
        return key;
    }

    /**
     * Rewrites the lock's {@code refreshed} time if the lock still holds this run's token; if it is
     * gone or someone else's, records that the lock was lost. The refresh thread calls this.
     */
    public synchronized void refresh() {
        if (closed || lost != null) {
            return;
        }
        Instant now = clock.instant();
        try {
            Optional<LockInfo> cur = LockRecord.read(repo, key);
            String loss = lossOf(cur);
            if (loss == null) {
                repo.put(key, LockRecord.format(LockRecord.withRefreshed(cur.get(), now)), Map.of());
                lastRefresh = now;
                return;
            }
            lost = loss;
            LOG.error("repository lock lost: {}", lost);
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot refresh the repository lock {} in {}: {}", key, repo.location(), e.getMessage());
            if (lastRefresh.plus(staleAfter).isBefore(now)) {
                lost = "the lock could not be refreshed for " + minutes(staleAfter) + " (" + e.getMessage() + ")";
            }
        }
    }

    /** Why the lock object as read is no longer this run's, or null if it still is. */
    private String lossOf(Optional<LockInfo> cur) {
        if (cur.isEmpty()) {
            return "the lock object " + key + " was removed (by \"unlock --force\" or a run that found it stale)";
        }
        return cur.get().token().equals(initial.token()) ? null : "the lock was taken over by " + cur.get().describe();
    }

    /**
     * Checks, with a read of the lock object, that this run still holds the lock. Call it before
     * an irreversible step (writing a manifest, deleting a backup).
     *
     * @throws RepositoryLockedException if the lock was lost
     */
    public synchronized void checkStillHeld() {
        if (lost == null && !closed) {
            try {
                lost = lossOf(LockRecord.read(repo, key));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the repository lock " + key + " in " + repo.location(), e);
            }
        }
        if (lost != null) {
            throw new RepositoryLockedException("lost the repository lock of " + repo.location() + ": " + lost);
        }
    }

    /**
     * Stops refreshing and deletes the lock object if it is still this run's.
     *
     * @throws RepositoryLockedException if the lock was lost while the run lasted
     */
    @Override
    public void close() {
        // An interrupted run (Ctrl-C, SIGTERM) must still release its lock, but the S3 client
        // refuses to start requests on an interrupted thread: clear the flag for the clean-up and
        // set it again afterwards.
        boolean interrupted = Thread.interrupted();
        try {
            release();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void release() {
        if (refresher != null) {
            // shutdown() cancels the periodic task but lets a refresh in flight finish (an
            // interrupt would only turn it into a spurious warning).
            refresher.shutdown();
            try {
                if (!refresher.awaitTermination(30, TimeUnit.SECONDS)) {
                    refresher.shutdownNow();
                }
            } catch (InterruptedException e) {
                refresher.shutdownNow();
            }
        }
        String lostReason;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                LockRecord.deleteIfToken(repo, key, initial.token());
            } catch (IOException | RuntimeException e) {
                LOG.warn("cannot remove the repository lock {} in {} ({}); it goes stale after {}",
                        key, repo.location(), e.getMessage(), minutes(staleAfter));
            }
            lostReason = lost;
        }
        if (lostReason != null) {
            throw new RepositoryLockedException("lost the repository lock of " + repo.location() + " while running: " + lostReason);
        }
    }

    // ---- listing and unlocking ----

    /** Every lock object in the repository, oldest first. */
    public static List<LockInfo> list(Repository repo) {
        return LockRecord.readAll(repo);
    }

    /** Removes the locks not refreshed for {@code staleAfter}; returns how many. */
    public static int removeStale(Repository repo, Clock clock, Duration staleAfter) {
        Instant now = clock.instant();
        return remove(repo, l -> l.isStale(now, staleAfter) && LockRecord.deleteIfToken(repo, l.key(), l.token()));
    }

    /** Removes every lock, live or not; returns how many. */
    public static int removeAll(Repository repo) {
        return remove(repo, l -> {
            repo.deleteObject(l.key());
            return true;
        });
    }

    private interface Removal {
        boolean remove(LockInfo lock) throws IOException;
    }

    private static int remove(Repository repo, Removal removal) {
        int n = 0;
        for (LockInfo l : list(repo)) {
            try {
                if (removal.remove(l)) {
                    n++;
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove lock " + l.key() + " from " + repo.location(), e);
            }
        }
        return n;
    }

    static RepositoryLockedException locked(LockInfo holder, Duration staleAfter) {
        return new RepositoryLockedException("repository is locked by " + holder.describe()
                + "; if that run is dead, run \"synapse-backup unlock\" (stale after " + minutes(staleAfter) + ")");
    }

    static String minutes(Duration d) {
        return d.toSeconds() % 60 == 0 ? d.toMinutes() + " min" : d.toString();
    }

    /** Settings of one lock acquisition. */
    public static final class Builder {
        // Read by LockAcquisition.
        final Repository repo;
        final String purpose;
        Clock clock = Clock.systemUTC();
        Duration staleAfter = DEFAULT_STALE_AFTER;
        Duration refreshInterval = DEFAULT_REFRESH_INTERVAL;
        Duration settle = DEFAULT_SETTLE;
        LockMode mode = LockMode.AUTO;
        String host;
        long pid = ProcessHandle.current().pid();

        private Builder(Repository repo, String purpose) {
            this.repo = Objects.requireNonNull(repo, "repo");
            this.purpose = Objects.requireNonNull(purpose, "purpose");
        }

        /** Source of "now" (default: the system clock). */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c);
            return this;
        }

        /** How long without refresh makes a lock stale (default 30 minutes). */
        public Builder staleAfter(Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("staleAfter must be positive");
            }
            this.staleAfter = d;
            return this;
        }

        /** How often the held lock is refreshed (default 5 minutes; zero: no refresh thread). */
        public Builder refreshInterval(Duration d) {
            this.refreshInterval = Objects.requireNonNull(d);
            return this;
        }

        /** The wait between the two listings of write-then-list (default 1.5 s). */
        public Builder settle(Duration d) {
            this.settle = Objects.requireNonNull(d);
            return this;
        }

        /** The protocol (default {@link LockMode#AUTO}). */
        public Builder mode(LockMode m) {
            this.mode = Objects.requireNonNull(m);
            return this;
        }

        /** Who the lock names (default: this host and process). */
        public Builder owner(String host, long pid) {
            this.host = Objects.requireNonNull(host);
            this.pid = pid;
            return this;
        }

        /**
         * Takes the lock.
         *
         * @throws RepositoryLockedException (exit 6) if another live run holds it
         */
        public RepositoryLock acquire() {
            if (host == null) {
                host = LockLiveness.HOST;
            }
            return new LockAcquisition(this).acquire();
        }
    }
}
