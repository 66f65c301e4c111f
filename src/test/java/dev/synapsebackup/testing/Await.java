package dev.synapsebackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** Waiting for a condition instead of sleeping a fixed time: the bound is only a failure timeout. */
public final class Await {
    private static final Duration POLL = Duration.ofMillis(10);

    private Await() {
    }

    /** Polls {@code condition} until it holds; fails after {@code bound}. */
    public static void until(String what, Duration bound, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!Boolean.TRUE.equals(condition.call())) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("gave up after " + bound + " waiting for " + what);
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    /** Waits until the wall clock is past {@code t}. */
    public static void clockPast(Instant t) throws Exception {
        Duration left = Duration.between(Instant.now(), t);
        until("the clock to pass " + t, left.isNegative() ? Duration.ofSeconds(30) : left.plusSeconds(30),
                () -> Instant.now().isAfter(t));
    }

    /**
     * Waits until the wall clock is more than {@code age} past every mtime and ctime in the tree
     * at {@code root} (links not followed): for code that trusts only times older than a slack.
     */
    public static void treeOlderThan(Path root, Duration age) throws Exception {
        clockPast(newestChange(root).plus(age));
    }

    /** The newest mtime or ctime of anything in the tree at {@code root} (links not followed). */
    public static Instant newestChange(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> {
                try {
                    Instant m = ((FileTime) Files.getAttribute(p, "unix:lastModifiedTime", LinkOption.NOFOLLOW_LINKS))
                            .toInstant();
                    Instant c = ((FileTime) Files.getAttribute(p, "unix:ctime", LinkOption.NOFOLLOW_LINKS)).toInstant();
                    return m.isAfter(c) ? m : c;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).max(Instant::compareTo).orElse(Instant.EPOCH);
        }
    }
}
