package dev.synapsebackup.repository;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.repository.RepositoryLock.LockInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A lock object as stored: its JSON format, and reading, listing and removing lock objects of an
 * {@link ObjectStore}. Nothing here decides who holds the lock.
 */
final class LockRecord {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most bytes of a lock object that are read. */
    static final int MAX_BYTES = 64 * 1024;

    private LockRecord() {
    }

    /** The lock object at {@code key}, or empty if there is none. */
    static Optional<LockInfo> read(ObjectStore store, String key) throws IOException {
        // One request on S3 (a GET answers 404 when it is absent): the lock is read before every
        // irreversible step and on release.
        return store.readSmall(key, MAX_BYTES).map(o -> parse(key, o.content(), o.lastModified()));
    }

    /** Every lock object of {@code store}, oldest first. */
    static List<LockInfo> readAll(ObjectStore store) {
        return readAll(store, null, null);
    }

    /**
     * Every lock object of {@code store} but {@code exceptKey} (null: none), oldest first. The
     * caller's own lock is left out before it is read: a read costs requests, and the caller
     * knows what it wrote. Every object listed (media copies skipped: lock keys sort before
     * them) is also passed to {@code listed}, if not null, with whether media copies were met.
     */
    static List<LockInfo> readAll(ObjectStore store, String exceptKey, ListingCollector listed) {
        List<String> keys = new ArrayList<>();
        try {
            boolean media = store.listObjectsSkipping(AbstractRepository.MEDIA_PREFIX, o -> {
                if (listed != null) {
                    listed.accept(o);
                }
                if (o.key().startsWith(BackupId.LOCKS_PREFIX) && !o.key().equals(exceptKey)) {
                    keys.add(o.key());
                }
            });
            if (listed != null) {
                listed.mediaCopies = media;
            }
            List<LockInfo> result = new ArrayList<>();
            for (String key : keys) {
                read(store, key).ifPresent(result::add);
            }
            result.sort(Comparator.comparing(LockInfo::lastModified).thenComparing(LockInfo::key));
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the locks of " + store.location(), e);
        }
    }

    /**
     * Deletes {@code key} if it still carries {@code token} (re-read just before: see
     * {@link RepositoryLock} on the race that remains).
     */
    static boolean deleteIfToken(ObjectStore store, String key, String token) throws IOException {
        Optional<LockInfo> cur = read(store, key);
        if (cur.isPresent() && Objects.equals(cur.get().token(), token)) {
            store.deleteObject(key);
            return true;
        }
        return false;
    }

    static LockInfo parse(String key, byte[] content, Instant lastModified) {
        try {
            JsonNode n = JSON.readTree(content);
            Instant started = Instant.parse(n.path("started").asText());
            return new LockInfo(key, n.path("host").asText("unknown host"), n.path("pid").asLong(-1),
                    n.path("purpose").asText("unknown run"), started,
                    n.hasNonNull("refreshed") ? Instant.parse(n.get("refreshed").asText()) : started,
                    n.path("token").asText(""), n.path("state").asText("held"), lastModified,
                    n.hasNonNull("machine") ? n.get("machine").asText() : null,
                    n.hasNonNull("process-start") ? Instant.parse(n.get("process-start").asText()) : null,
                    n.path("process-start-ticks").asLong(0));
        } catch (IOException | RuntimeException e) {
            // Unreadable (written by something else, or damaged): a lock all the same, aged by the store.
            return new LockInfo(key, "unknown host", -1, "unreadable lock object " + key, lastModified, lastModified,
                    "unreadable:" + lastModified, "held", lastModified);
        }
    }

    static byte[] format(LockInfo l) {
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

    static LockInfo withRefreshed(LockInfo l, Instant t) {
        return new LockInfo(l.key(), l.host(), l.pid(), l.purpose(), l.started(), t, l.token(), l.state(),
                l.lastModified(), l.machine(), l.processStart(), l.processStartTicks());
    }

    static LockInfo withState(LockInfo l, String state) {
        return new LockInfo(l.key(), l.host(), l.pid(), l.purpose(), l.started(), l.refreshed(), l.token(), state,
                l.lastModified(), l.machine(), l.processStart(), l.processStartTicks());
    }

    static LockInfo withKey(LockInfo l, String key) {
        return new LockInfo(key, l.host(), l.pid(), l.purpose(), l.started(), l.refreshed(), l.token(), l.state(),
                l.lastModified(), l.machine(), l.processStart(), l.processStartTicks());
    }
}
