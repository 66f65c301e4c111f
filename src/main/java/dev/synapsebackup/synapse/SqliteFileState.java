package dev.synapsebackup.synapse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What {@code stat} says about a live SQLite database's files ({@code homeserver.db} and, where
 * they exist, its {@code -wal} and {@code -journal}) at one moment: device, inode, size, mode,
 * owner, and mtime to the nanosecond (for an empty companion, none); for the database file also
 * its ctime.
 *
 * <p>Every write to a file moves its mtime and ctime, so when all of this is unchanged since a
 * snapshot began, the database still holds exactly what that snapshot copied, and the snapshot
 * need not be made again. The companions' ctimes are left out: SQLite gives the {@code -wal} the
 * database's owner each time a process running as root opens it, which moves its ctime without
 * a write (our own snapshot would do that, every run). Like git's index, this only holds when the times in the state are older than the
 * moment it was read by more than the filesystem's timestamp resolution: a write in the same
 * clock tick as the read would leave the times as they were ({@link #settled}).
 *
 * @param taken when the files were examined (before the snapshot that goes with this state began)
 * @param files one entry per existing file, in the order db, wal, journal
 */
public record SqliteFileState(Instant taken, List<FileState> files) {
    /** Suffixes of the files whose contents make up the database. */
    private static final String[] SUFFIXES = {"", "-wal", "-journal"};
    /** Coarser than any Linux filesystem's timestamp resolution (FAT's 2 s). */
    public static final Duration SLACK = Duration.ofSeconds(2);

    /**
     * One file.
     *
     * @param suffix {@code ""}, {@code "-wal"} or {@code "-journal"}
     * @param mtimeNanos the mtime; 0 for an empty companion
     * @param ctimeNanos the database file's ctime; 0 for the companions
     */
    public record FileState(String suffix, long dev, long ino, long size, int mode, int uid, int gid,
                            long mtimeNanos, long ctimeNanos) {
    }

    /**
     * Reads the state of {@code db} and its companions now. A symlinked database is followed, as
     * SQLite follows it: its companions sit beside the real file, and the link itself never
     * changes when the database does.
     */
    public static SqliteFileState read(Path db, Instant now) throws IOException {
        Path real = db.toRealPath();
        List<FileState> files = new ArrayList<>();
        for (String suffix : SUFFIXES) {
            Path p = Path.of(real + suffix);
            Map<String, Object> a;
            try {
                a = Files.readAttributes(p, "unix:dev,ino,size,mode,uid,gid,lastModifiedTime,ctime",
                        LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                continue;
            }
            boolean main = suffix.isEmpty();
            long size = (Long) a.get("size");
            // An empty companion adds nothing to the database: its times (SQLite creates a missing
            // -wal on opening, our own snapshot included) say nothing about the contents.
            long mtime = main || size > 0 ? nanos((FileTime) a.get("lastModifiedTime")) : 0;
            files.add(new FileState(suffix, (Long) a.get("dev"), (Long) a.get("ino"), size,
                    (Integer) a.get("mode"), (Integer) a.get("uid"), (Integer) a.get("gid"),
                    mtime, main ? nanos((FileTime) a.get("ctime")) : 0));
        }
        return new SqliteFileState(now, List.copyOf(files));
    }

    /**
     * Whether every time in this state is older than {@link #taken} minus {@link #SLACK}, so that
     * any later write gives a file a time that differs from it.
     */
    public boolean settled() {
        return newestTime() < nanos(taken.minus(SLACK));
    }

    /** Whether some file's mtime or ctime is at or after {@code t}. */
    public boolean changedSince(Instant t) {
        return newestTime() >= nanos(t);
    }

    /** Whether the files are the same as in {@code other} (the moment of reading aside). */
    public boolean sameFiles(SqliteFileState other) {
        return other != null && files.equals(other.files);
    }

    /**
     * Whether this later reading shows the database unchanged since {@code earlier}, which the
     * snapshot that goes with it was made from: the same files, times settled at that reading,
     * and this reading after it (a clock that went back voids the racy rule's premise).
     */
    public boolean unchangedSince(SqliteFileState earlier) {
        return earlier != null && earlier.settled() && taken.isAfter(earlier.taken) && sameFiles(earlier);
    }

    private long newestTime() {
        long newest = Long.MIN_VALUE;
        for (FileState f : files) {
            newest = Math.max(newest, Math.max(f.mtimeNanos(), f.ctimeNanos()));
        }
        return newest;
    }

    /** The manifest form (docs/FORMAT.md §3, {@code database.source}). */
    public Map<String, Object> toManifest() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("taken", taken.toString());
        List<Map<String, Object>> list = new ArrayList<>();
        for (FileState f : files) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("suffix", f.suffix());
            e.put("dev", f.dev());
            e.put("ino", f.ino());
            e.put("size", f.size());
            e.put("mode", f.mode());
            e.put("uid", f.uid());
            e.put("gid", f.gid());
            e.put("mtime-ns", f.mtimeNanos());
            if (f.suffix().isEmpty()) {
                e.put("ctime-ns", f.ctimeNanos());
            }
            list.add(e);
        }
        m.put("files", list);
        return m;
    }

    /** Parses {@link #toManifest()}'s form; null if {@code o} is absent or not in that form. */
    public static SqliteFileState fromManifest(Object o) {
        if (!(o instanceof Map<?, ?> m) || !(m.get("files") instanceof List<?> list)) {
            return null;
        }
        try {
            Instant taken = Instant.parse(String.valueOf(m.get("taken")));
            List<FileState> files = new ArrayList<>();
            for (Object e : list) {
                Map<?, ?> f = (Map<?, ?>) e;
                files.add(new FileState((String) f.get("suffix"), num(f, "dev"), num(f, "ino"), num(f, "size"),
                        (int) num(f, "mode"), (int) num(f, "uid"), (int) num(f, "gid"), num(f, "mtime-ns"),
                        "".equals(f.get("suffix")) ? num(f, "ctime-ns") : 0));
            }
            return new SqliteFileState(taken, List.copyOf(files));
        } catch (RuntimeException e) {
            return null; // another version's idea of this field: the snapshot is simply made again
        }
    }

    private static long num(Map<?, ?> m, String key) {
        return ((Number) m.get(key)).longValue();
    }

    private static long nanos(FileTime t) {
        return t.to(TimeUnit.NANOSECONDS);
    }

    private static long nanos(Instant t) {
        return TimeUnit.SECONDS.toNanos(t.getEpochSecond()) + t.getNano();
    }
}
