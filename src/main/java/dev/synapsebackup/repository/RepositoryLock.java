package dev.synapsebackup.repository;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.RepositoryLockedException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.security.SecureRandom;
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
 */
public final class RepositoryLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryLock.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int MAX_LOCK_BYTES = 64 * 1024;
    private static final int ATTEMPTS = 5;

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
            return refreshed.plus(staleAfter).isBefore(now) || isDeadLocalRun();
        }

        /**
         * Whether the lock names this machine (same host name, boot id and pid namespace)
         * and a process that no longer runs: killed ({@code kill -9}) or crashed, so it is stale
         * at once. A live process with that pid that started at another time than the one the
         * lock records is a reused pid, not the holder.
         */
        public boolean isDeadLocalRun() {
            if (pid <= 0 || host == null || !host.equals(Machine.HOST) || machine == null || Machine.ID == null
                    || !machine.equals(Machine.ID)) {
                return false;
            }
            Optional<ProcessHandle> p = ProcessHandle.of(pid);
            if (p.isEmpty() || !p.get().isAlive()) {
                // With /proc mounted hidepid (or systemd's ProtectProc=invisible) another user's live
                // process is invisible: a pid we cannot see is gone only if we can see pid 1's.
                return java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/1/stat"));
            }
            if (processStartTicks > 0) {
                long now = dev.synapsebackup.io.WorkDir.startTicks(pid);
                return now > 0 && now != processStartTicks;
            }
            if (processStart == null) {
                return false;
            }
            Optional<Instant> start = p.get().info().startInstant();
            // Start times come from clock ticks since boot: allow for their rounding.
            return start.isPresent() && Duration.between(start.get(), processStart).abs().compareTo(Duration.ofSeconds(2)) > 0;
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
    private String lost;
    private boolean closed;

    private RepositoryLock(Repository repo, String key, LockInfo info, Builder b) {
        this.repo = repo;
        this.key = key;
        this.clock = b.clock;
        this.staleAfter = b.staleAfter;
        this.initial = info;
        this.lastRefresh = info.refreshed();
        if (b.refreshInterval.isZero() || b.refreshInterval.isNegative()) {
            refresher = null;
        } else {
            refresher = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "repository-lock-refresh");
                t.setDaemon(true);
                return t;
            });
            long ms = b.refreshInterval.toMillis();
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
            Optional<LockInfo> cur = read(repo, key);
            if (cur.isEmpty()) {
                lost = "the lock object " + key + " was removed (by \"unlock --force\" or a run that found it stale)";
            } else if (!cur.get().token().equals(initial.token())) {
                lost = "the lock was taken over by " + cur.get().describe();
            } else {
                LockInfo next = withRefreshed(cur.get(), now);
                repo.put(key, toJson(next), Map.of());
                lastRefresh = now;
                return;
            }
            LOG.error("repository lock lost: {}", lost);
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot refresh the repository lock {} in {}: {}", key, repo.location(), e.getMessage());
            if (lastRefresh.plus(staleAfter).isBefore(now)) {
                lost = "the lock could not be refreshed for " + minutes(staleAfter) + " (" + e.getMessage() + ")";
            }
        }
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
                Optional<LockInfo> cur = read(repo, key);
                if (cur.isEmpty()) {
                    lost = "the lock object " + key + " was removed (by \"unlock --force\" or a run that found it stale)";
                } else if (!cur.get().token().equals(initial.token())) {
                    lost = "the lock was taken over by " + cur.get().describe();
                }
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
                deleteIfToken(repo, key, initial.token());
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
        List<ObjectInfo> objects = new ArrayList<>();
        try {
            repo.listObjects(o -> {
                if (o.key().startsWith(BackupId.LOCKS_PREFIX)) {
                    objects.add(o);
                }
            });
            List<LockInfo> result = new ArrayList<>();
            for (ObjectInfo o : objects) {
                read(repo, o.key()).ifPresent(result::add);
            }
            result.sort(Comparator.comparing(LockInfo::lastModified).thenComparing(LockInfo::key));
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the locks of " + repo.location(), e);
        }
    }

    /** Removes the locks not refreshed for {@code staleAfter}; returns how many. */
    public static int removeStale(Repository repo, Clock clock, Duration staleAfter) {
        int n = 0;
        Instant now = clock.instant();
        for (LockInfo l : list(repo)) {
            if (l.isStale(now, staleAfter)) {
                try {
                    if (deleteIfToken(repo, l.key(), l.token())) {
                        n++;
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot remove lock " + l.key() + " from " + repo.location(), e);
                }
            }
        }
        return n;
    }

    /** Removes every lock, live or not; returns how many. */
    public static int removeAll(Repository repo) {
        int n = 0;
        for (LockInfo l : list(repo)) {
            try {
                repo.deleteObject(l.key());
                n++;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove lock " + l.key() + " from " + repo.location(), e);
            }
        }
        return n;
    }

    // ---- internals ----

    private static RepositoryLockedException locked(LockInfo holder, Duration staleAfter) {
        return new RepositoryLockedException("repository is locked by " + holder.describe()
                + "; if that run is dead, run \"synapse-backup unlock\" (stale after " + minutes(staleAfter) + ")");
    }

    private static String minutes(Duration d) {
        return d.toSeconds() % 60 == 0 ? d.toMinutes() + " min" : d.toString();
    }

    /** Deletes {@code key} if it still carries {@code token} (re-read just before: see the class comment). */
    private static boolean deleteIfToken(Repository repo, String key, String token) throws IOException {
        Optional<LockInfo> cur = read(repo, key);
        if (cur.isPresent() && Objects.equals(cur.get().token(), token)) {
            repo.deleteObject(key);
            return true;
        }
        return false;
    }

    static Optional<LockInfo> read(Repository repo, String key) throws IOException {
        Optional<ObjectInfo> stat = repo.stat(key);
        if (stat.isEmpty()) {
            return Optional.empty();
        }
        byte[] content;
        try (InputStream in = repo.open(key)) {
            content = in.readNBytes(MAX_LOCK_BYTES);
        } catch (FileNotFoundException e) {
            return Optional.empty();
        }
        Instant lm = stat.get().lastModified();
        try {
            JsonNode n = JSON.readTree(content);
            Instant started = Instant.parse(n.path("started").asText());
            return Optional.of(new LockInfo(key, n.path("host").asText("unknown host"), n.path("pid").asLong(-1),
                    n.path("purpose").asText("unknown run"), started,
                    n.hasNonNull("refreshed") ? Instant.parse(n.get("refreshed").asText()) : started,
                    n.path("token").asText(""), n.path("state").asText("held"), lm,
                    n.hasNonNull("machine") ? n.get("machine").asText() : null,
                    n.hasNonNull("process-start") ? Instant.parse(n.get("process-start").asText()) : null,
                    n.path("process-start-ticks").asLong(0)));
        } catch (IOException | RuntimeException e) {
            // Unreadable (written by something else, or damaged): a lock all the same, aged by the store.
            return Optional.of(new LockInfo(key, "unknown host", -1, "unreadable lock object " + key, lm, lm,
                    "unreadable:" + lm, "held", lm));
        }
    }

    private static byte[] toJson(LockInfo l) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("host", l.host());
        m.put("pid", l.pid());
        m.put("purpose", l.purpose());
        m.put("started", l.started().toString());
        m.put("refreshed", l.refreshed().toString());
        m.put("token", l.token());
        m.put("state", l.state());
        if (l.machine() != null) {
            m.put("machine", l.machine());
        }
        if (l.processStart() != null) {
            m.put("process-start", l.processStart().toString());
        }
        if (l.processStartTicks() > 0) {
            m.put("process-start-ticks", l.processStartTicks());
        }
        try {
            return JSON.writeValueAsBytes(m);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static LockInfo withRefreshed(LockInfo l, Instant t) {
        return new LockInfo(l.key(), l.host(), l.pid(), l.purpose(), l.started(), t, l.token(), l.state(),
                l.lastModified(), l.machine(), l.processStart(), l.processStartTicks());
    }

    private static LockInfo withState(LockInfo l, String state) {
        return new LockInfo(l.key(), l.host(), l.pid(), l.purpose(), l.started(), l.refreshed(), l.token(), state,
                l.lastModified(), l.machine(), l.processStart(), l.processStartTicks());
    }

    private static LockInfo withKey(LockInfo l, String key) {
        return new LockInfo(key, l.host(), l.pid(), l.purpose(), l.started(), l.refreshed(), l.token(), l.state(),
                l.lastModified(), l.machine(), l.processStart(), l.processStartTicks());
    }

    /** This machine, as a lock names it. */
    static final class Machine {
        /** This host's name. */
        static final String HOST = defaultHost();
        /**
         * The kernel's boot id and this process's pid namespace: tells this machine from another
         * of the same host name, this boot from an earlier one (whose pids mean nothing now), and
         * this host from a container that shares its host name but not its pids (docker
         * {@code --network host}); null where there is none.
         */
        static final String ID = machineId();

        private Machine() {
        }

        private static String defaultHost() {
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (IOException | SecurityException e) {
                String env = System.getenv("HOSTNAME");
                return env == null || env.isBlank() ? "unknown host" : env;
            }
        }

        private static String machineId() {
            try {
                String boot = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/random/boot_id")).trim();
                String pidNamespace = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString();
                return boot.isEmpty() || pidNamespace.isEmpty() ? null : boot + " " + pidNamespace;
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }
    }

    /** Settings of one lock acquisition. */
    public static final class Builder {
        private final Repository repo;
        private final String purpose;
        private Clock clock = Clock.systemUTC();
        private Duration staleAfter = DEFAULT_STALE_AFTER;
        private Duration refreshInterval = DEFAULT_REFRESH_INTERVAL;
        private Duration settle = DEFAULT_SETTLE;
        private LockMode mode = LockMode.AUTO;
        private String host;
        private long pid = ProcessHandle.current().pid();

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
                host = Machine.HOST;
            }
            try {
                LockMode m = mode == LockMode.AUTO && !repo.supportsConditionalPut() ? LockMode.WRITE_THEN_LIST : mode;
                return m == LockMode.WRITE_THEN_LIST ? acquireByListing() : acquireConditionally();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot take the repository lock in " + repo.location(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RepositoryLockedException("interrupted while taking the repository lock of " + repo.location(), e);
            }
        }

        private LockInfo fresh(String key, String state) {
            byte[] t = new byte[16];
            RANDOM.nextBytes(t);
            Instant now = clock.instant();
            // The named process's start time: a later process that reuses its pid is not the holder.
            Instant processStart = host.equals(Machine.HOST)
                    ? ProcessHandle.of(pid).flatMap(p -> p.info().startInstant()).orElse(null) : null;
            return new LockInfo(key, host, pid, purpose, now, now, HexFormat.of().formatHex(t), state, now,
                    host.equals(Machine.HOST) ? Machine.ID : null, processStart,
                    host.equals(Machine.HOST) ? dev.synapsebackup.io.WorkDir.startTicks(pid) : 0);
        }

        private RepositoryLock acquireConditionally() throws IOException, InterruptedException {
            LockInfo lastSeen = null;
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                LockInfo mine = fresh(EXCLUSIVE_KEY, "held");
                byte[] content = toJson(mine);
                if (repo.putIfAbsent(EXCLUSIVE_KEY, content, Map.of())) {
                    // From here on the lock object is ours: any failure removes it (a leaked lock
                    // would block every later run until "unlock").
                    boolean keep = false;
                    try {
                        if (mode == LockMode.AUTO && !repo.supportsConditionalPut()) {
                            // Learned just now that the put was not conditional: switch protocols.
                            deleteIfToken(repo, EXCLUSIVE_KEY, mine.token());
                            return acquireByListing();
                        }
                        // A run using the other protocol may hold a lock of its own.
                        Optional<LockInfo> other = liveOthers(EXCLUSIVE_KEY).stream().findFirst();
                        if (other.isPresent()) {
                            throw locked(other.get(), staleAfter);
                        }
                        RepositoryLock lock = new RepositoryLock(repo, EXCLUSIVE_KEY, mine, this);
                        keep = true;
                        return lock;
                    } finally {
                        if (!keep) {
                            removeQuietly(EXCLUSIVE_KEY, mine.token());
                        }
                    }
                }
                Optional<LockInfo> cur = read(repo, EXCLUSIVE_KEY);
                if (cur.isEmpty()) {
                    continue; // released between our put and our read: try again
                }
                lastSeen = cur.get();
                if (isOursAltered(EXCLUSIVE_KEY, lastSeen, content, mine.token())) {
                    removeQuietly(EXCLUSIVE_KEY, null);
                    throw altered(EXCLUSIVE_KEY, content.length);
                }
                if (!lastSeen.isStale(clock.instant(), staleAfter)) {
                    throw locked(lastSeen, staleAfter);
                }
                LOG.warn("taking over the stale repository lock of {}", lastSeen.describe());
                deleteIfToken(repo, EXCLUSIVE_KEY, lastSeen.token());
            }
            throw lastSeen != null ? locked(lastSeen, staleAfter)
                    : new RepositoryLockedException("could not take the repository lock of " + repo.location()
                            + " after " + ATTEMPTS + " attempts: other runs keep taking and releasing it");
        }

        /**
         * Whether the object at {@code key}, which did not read back as {@code written}, is still
         * our write, altered by the store (it holds our random token): for example a store that
         * keeps the SDK's {@code aws-chunked} framing as part of the object.
         */
        private boolean isOursAltered(String key, LockInfo seen, byte[] written, String token) throws IOException {
            if (seen.token().equals(token)) {
                return false;
            }
            byte[] raw;
            try (InputStream in = repo.open(key)) {
                raw = in.readNBytes(MAX_LOCK_BYTES);
            } catch (FileNotFoundException e) {
                return false;
            }
            return !Arrays.equals(raw, written)
                    && new String(raw, StandardCharsets.ISO_8859_1).contains(token);
        }

        private dev.synapsebackup.SynapseBackupException altered(String key, int written) {
            return new dev.synapsebackup.SynapseBackupException("cannot take the repository lock of " + repo.location()
                    + ": the store altered the lock object " + key + " (" + written + " bytes written, different"
                    + " bytes read back; it may keep the upload's aws-chunked framing); removed it again."
                    + " This store cannot hold the lock; nothing was changed");
        }

        /** Removes our lock object after a failure; {@code token} null: unconditionally. */
        private void removeQuietly(String key, String token) {
            try {
                if (token == null) {
                    repo.deleteObject(key);
                } else if (!deleteIfToken(repo, key, token)) {
                    LOG.debug("lock object {} no longer ours: left alone", key);
                }
            } catch (IOException | RuntimeException e) {
                LOG.warn("cannot remove the lock {} from {} ({}); it goes stale after {} or when this process ends",
                        key, repo.location(), e.getMessage(), minutes(staleAfter));
            }
        }

        /** Live lock objects other than {@code exceptKey}; stale ones are left for their takers. */
        private List<LockInfo> liveOthers(String exceptKey) {
            Instant now = clock.instant();
            return list(repo).stream().filter(l -> !l.key().equals(exceptKey) && !l.isStale(now, staleAfter)).toList();
        }

        private RepositoryLock acquireByListing() throws IOException, InterruptedException {
            LockInfo mine = fresh(null, "pending");
            String key = BackupId.LOCKS_PREFIX + mine.token();
            mine = withKey(mine, key);
            boolean won = false;
            try {
                byte[] content = toJson(mine);
                repo.put(key, content, Map.of());
                Optional<LockInfo> back = read(repo, key);
                if (back.isPresent() && isOursAltered(key, back.get(), content, mine.token())) {
                    throw altered(key, content.length);
                }
                LockInfo blocker = blocker(key);
                if (blocker == null && !settle.isZero()) {
                    // A run that wrote after our first listing is seen now, or (having written later
                    // than the store's timestamp resolution) sees us as older.
                    Thread.sleep(settle.toMillis());
                    blocker = blocker(key);
                }
                if (blocker != null) {
                    throw locked(blocker, staleAfter);
                }
                LockInfo held = withState(mine, "held");
                repo.put(key, toJson(held), Map.of());
                won = true;
                return new RepositoryLock(repo, key, held, this);
            } finally {
                if (!won) {
                    try {
                        repo.deleteObject(key);
                    } catch (IOException | RuntimeException e) {
                        LOG.warn("cannot remove the lock attempt {} from {}: {}", key, repo.location(), e.getMessage());
                    }
                }
            }
        }

        /** The live lock that stops us, or null: one that is held, or pending and older than ours. */
        private LockInfo blocker(String myKey) throws IOException {
            Instant now = clock.instant();
            List<LockInfo> all = list(repo);
            LockInfo me = all.stream().filter(l -> l.key().equals(myKey)).findFirst().orElse(null);
            if (me == null) {
                throw new RepositoryLockedException("the lock attempt " + myKey + " vanished from " + repo.location()
                        + " (removed by \"unlock --force\"?)");
            }
            for (LockInfo l : all) {
                if (l.key().equals(myKey)) {
                    continue;
                }
                if (l.isStale(now, staleAfter)) {
                    LOG.warn("removing the stale repository lock of {}", l.describe());
                    deleteIfToken(repo, l.key(), l.token());
                    continue;
                }
                boolean older = l.lastModified().isBefore(me.lastModified())
                        || (l.lastModified().equals(me.lastModified()) && l.key().compareTo(myKey) < 0);
                if (l.key().equals(EXCLUSIVE_KEY) || l.held() || older) {
                    return l;
                }
            }
            return null;
        }
    }
}
