package dev.synapsebackup.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run's own work directory, where plaintext lives while a command runs (database snapshot,
 * decrypted manifests, the PostgreSQL passfile, sqlite-jdbc's native library). It is made 0700
 * under the temp directory as {@code synapse-backup-run-<pid>-<start>-<random>}, where start is
 * the process's start time in clock ticks since boot (field 22 of {@code /proc/<pid>/stat}: unlike
 * a wall-clock start instant, it does not move when NTP steps the clock after boot, which would make
 * a live run look like a reused pid). The owning process and its start time are part of the name, so they exist from the moment the directory
 * does (a file written inside afterwards would leave a moment in which another run sees an
 * ownerless directory). A run killed with SIGKILL or by the OOM killer cannot clean up after
 * itself; the next run removes the directories whose owner is gone (a process with that pid
 * that started at another time is another process). A live run's directory is never touched.
 */
public final class WorkDir {
    private static final Logger LOG = LoggerFactory.getLogger(WorkDir.class);
    /** Name prefix of run directories. */
    public static final String PREFIX = "synapse-backup-run-";
    private static final Map<Path, Path> OWN = new HashMap<>();

    private WorkDir() {
    }

    /**
     * This process's work directory under {@code java.io.tmpdir}, made on first use (after removing
     * those of runs that are gone). Also points sqlite-jdbc's native library extraction at it.
     */
    public static Path get() {
        return under(Path.of(System.getProperty("java.io.tmpdir")));
    }

    /** This process's work directory under {@code base} (for {@code --temp-dir}), made on first use. */
    public static synchronized Path under(Path base) {
        Path key = base.toAbsolutePath().normalize();
        Path dir = OWN.get(key);
        if (dir != null && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return dir;
        }
        sweep(key);
        ProcessHandle self = ProcessHandle.current();
        String name = PREFIX + self.pid() + "-" + startTicks(self.pid()) + "-";
        try {
            // createTempDirectory makes it rwx------ on POSIX file systems.
            dir = Files.createTempDirectory(key, name);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a work directory in " + key, e);
        }
        OWN.put(key, dir);
        if (System.getProperty("org.sqlite.tmpdir") == null) {
            // Read when sqlite-jdbc first loads its native library: extract it here, not into /tmp.
            System.setProperty("org.sqlite.tmpdir", dir.toString());
        }
        return dir;
    }

    /** Removes this process's work directories (at the end of a command-line run). */
    public static synchronized void removeOwn() {
        for (Path dir : OWN.values()) {
            deleteTree(dir);
        }
        OWN.clear();
    }

    /**
     * Removes the run directories in {@code base} whose owning process is gone. Only real
     * directories (not links) owned by this process's user are considered.
     *
     * @return how many were removed
     */
    public static int sweep(Path base) {
        Optional<UserPrincipal> me = currentUser();
        if (me.isEmpty()) {
            return 0; // no /proc: cannot tell whose a directory is
        }
        int removed = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(base, PREFIX + "*")) {
            for (Path p : ds) {
                long[] owner = parse(p.getFileName().toString());
                if (owner == null || alive(owner[0], owner[1])) {
                    continue;
                }
                try {
                    if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
                            || !Files.getOwner(p, LinkOption.NOFOLLOW_LINKS).equals(me.get())) {
                        continue;
                    }
                } catch (IOException e) {
                    continue;
                }
                if (deleteTree(p)) {
                    removed++;
                }
            }
        } catch (IOException e) {
            // base missing or unreadable: nothing of ours to remove there
        }
        return removed;
    }

    /** {pid, start ticks} from a run directory's name, or null if it is not one. */
    static long[] parse(String name) {
        if (!name.startsWith(PREFIX)) {
            return null;
        }
        String[] parts = name.substring(PREFIX.length()).split("-", 3);
        if (parts.length < 3) {
            return null;
        }
        try {
            return new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Whether the process {@code pid} that started at {@code startTicks} (0: unknown) still runs. */
    static boolean alive(long pid, long startTicks) {
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty() || !h.get().isAlive()) {
            return false;
        }
        long now = startTicks(pid);
        // Unknown start time: assume it is the owner (keeping a directory is the safe mistake).
        return startTicks == 0 || now == 0 || now == startTicks;
    }

    /**
     * The start time of process {@code pid} in clock ticks since boot (field 22 of
     * {@code /proc/<pid>/stat}), or 0 if unknown.
     */
    public static long startTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The command name (field 2) is in parentheses and may hold spaces and parentheses.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[22 - 3]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static Optional<UserPrincipal> currentUser() {
        try {
            // /proc/<pid> belongs to the process's effective user.
            return Optional.of(Files.getOwner(Path.of("/proc", Long.toString(ProcessHandle.current().pid()))));
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    /**
     * Deletes a tree without following links, going on past what cannot be removed; returns false
     * if some of it could not be removed. Null or a missing path is nothing to delete.
     */
    public static boolean deleteTree(Path dir) {
        if (dir == null) {
            return true;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            boolean all = true;
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    all = false;
                }
            }
            return all;
        } catch (NoSuchFileException e) {
            return true;
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    /** {@link #deleteTree} for a temporary tree: what is left behind is logged, not thrown. */
    public static void deleteTemporary(Path dir) {
        if (!deleteTree(dir)) {
            LOG.warn("cannot remove all of the temporary directory {}", dir);
        }
    }
}
