package dev.synapsebackup.repository;

import dev.synapsebackup.RepositoryLockedException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.repository.RepositoryLock.LockInfo;
import dev.synapsebackup.repository.RepositoryLock.LockMode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One attempt to take the lock, by either protocol of {@link RepositoryLock}. Whatever it wrote is
 * removed again unless it returns the held lock.
 */
final class LockAcquisition {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryLock.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int ATTEMPTS = 5;

    private final RepositoryLock.Builder settings;
    private final Repository repo;

    LockAcquisition(RepositoryLock.Builder settings) {
        this.settings = settings;
        this.repo = settings.repo;
    }

    RepositoryLock acquire() {
        try {
            LockMode m = settings.mode == LockMode.AUTO && !repo.supportsConditionalPut()
                    ? LockMode.WRITE_THEN_LIST : settings.mode;
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
        return LockLiveness.newLock(key, settings.host, settings.pid, settings.purpose, settings.clock.instant(),
                HexFormat.of().formatHex(t), state);
    }

    private RepositoryLock held(String key, LockInfo info) {
        return new RepositoryLock(repo, key, info, settings.clock, settings.staleAfter, settings.refreshInterval);
    }

    private RepositoryLockedException locked(LockInfo holder) {
        return RepositoryLock.locked(holder, settings.staleAfter);
    }

    private RepositoryLock acquireConditionally() throws IOException, InterruptedException {
        String key = RepositoryLock.EXCLUSIVE_KEY;
        LockInfo lastSeen = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            LockInfo mine = fresh(key, "held");
            byte[] content = LockRecord.format(mine);
            if (repo.putIfAbsent(key, content, Map.of())) {
                // From here on the lock object is ours: any failure removes it (a leaked lock
                // would block every later run until "unlock").
                boolean keep = false;
                try {
                    if (settings.mode == LockMode.AUTO && !repo.supportsConditionalPut()) {
                        // Learned just now that the put was not conditional: switch protocols.
                        LockRecord.deleteIfToken(repo, key, mine.token());
                        return acquireByListing();
                    }
                    // A run using the other protocol may hold a lock of its own. The listing that
                    // finds it is taken once our lock exists: with no other live lock, it is the
                    // repository as this run holds it, and serves as the run's listing.
                    ListingCollector listed = new ListingCollector();
                    Optional<LockInfo> other = liveOthers(key, listed).stream().findFirst();
                    if (other.isPresent()) {
                        throw locked(other.get());
                    }
                    RepositoryLock lock = held(key, mine);
                    lock.listedWhenTaken(listed.build(Map.of()));
                    keep = true;
                    return lock;
                } finally {
                    if (!keep) {
                        removeQuietly(key, mine.token());
                    }
                }
            }
            Optional<LockInfo> cur = LockRecord.read(repo, key);
            if (cur.isEmpty()) {
                continue; // released between our put and our read: try again
            }
            lastSeen = cur.get();
            if (isOursAltered(key, lastSeen, content, mine.token())) {
                removeQuietly(key, null);
                throw altered(key, content.length);
            }
            if (!lastSeen.isStale(settings.clock.instant(), settings.staleAfter)) {
                throw locked(lastSeen);
            }
            LOG.warn("taking over the stale repository lock of {}", lastSeen.describe());
            LockRecord.deleteIfToken(repo, key, lastSeen.token());
        }
        throw lastSeen != null ? locked(lastSeen)
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
            raw = in.readNBytes(LockRecord.MAX_BYTES);
        } catch (FileNotFoundException e) {
            return false;
        }
        return !Arrays.equals(raw, written)
                && new String(raw, StandardCharsets.ISO_8859_1).contains(token);
    }

    private SynapseBackupException altered(String key, int written) {
        return new SynapseBackupException("cannot take the repository lock of " + repo.location()
                + ": the store altered the lock object " + key + " (" + written + " bytes written, different"
                + " bytes read back; it may keep the upload's aws-chunked framing); removed it again."
                + " This store cannot hold the lock; nothing was changed");
    }

    /** Removes our lock object after a failure; {@code token} null: unconditionally. */
    private void removeQuietly(String key, String token) {
        try {
            if (token == null) {
                repo.deleteObject(key);
            } else if (!LockRecord.deleteIfToken(repo, key, token)) {
                LOG.debug("lock object {} no longer ours: left alone", key);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot remove the lock {} from {} ({}); it goes stale after {} or when this process ends",
                    key, repo.location(), e.getMessage(), RepositoryLock.minutes(settings.staleAfter));
        }
    }

    /** Live lock objects other than {@code exceptKey}; stale ones are left for their takers. */
    private List<LockInfo> liveOthers(String exceptKey, ListingCollector listed) {
        Instant now = settings.clock.instant();
        return LockRecord.readAll(repo, exceptKey, listed).stream()
                .filter(l -> !l.isStale(now, settings.staleAfter)).toList();
    }

    private RepositoryLock acquireByListing() throws IOException, InterruptedException {
        LockInfo mine = fresh(null, "pending");
        String key = BackupId.LOCKS_PREFIX + mine.token();
        mine = LockRecord.withKey(mine, key);
        boolean won = false;
        try {
            byte[] content = LockRecord.format(mine);
            repo.put(key, content, Map.of());
            Optional<LockInfo> back = LockRecord.read(repo, key);
            if (back.isPresent() && isOursAltered(key, back.get(), content, mine.token())) {
                throw altered(key, content.length);
            }
            LockInfo blocker = blocker(key);
            if (blocker == null && !settings.settle.isZero()) {
                // A run that wrote after our first listing is seen now, or (having written later
                // than the store's timestamp resolution) sees us as older.
                Thread.sleep(settings.settle.toMillis());
                blocker = blocker(key);
            }
            if (blocker != null) {
                throw locked(blocker);
            }
            LockInfo held = LockRecord.withState(mine, "held");
            repo.put(key, LockRecord.format(held), Map.of());
            won = true;
            return held(key, held);
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
        Instant now = settings.clock.instant();
        List<LockInfo> all = LockRecord.readAll(repo);
        LockInfo me = all.stream().filter(l -> l.key().equals(myKey)).findFirst().orElse(null);
        if (me == null) {
            throw new RepositoryLockedException("the lock attempt " + myKey + " vanished from " + repo.location()
                    + " (removed by \"unlock --force\"?)");
        }
        for (LockInfo l : all) {
            if (l.key().equals(myKey)) {
                continue;
            }
            if (l.isStale(now, settings.staleAfter)) {
                LOG.warn("removing the stale repository lock of {}", l.describe());
                LockRecord.deleteIfToken(repo, l.key(), l.token());
                continue;
            }
            boolean older = l.lastModified().isBefore(me.lastModified())
                    || (l.lastModified().equals(me.lastModified()) && l.key().compareTo(myKey) < 0);
            if (l.key().equals(RepositoryLock.EXCLUSIVE_KEY) || l.held() || older) {
                return l;
            }
        }
        return null;
    }
}
