package dev.synapsebackup.manifest;

import dev.synapsebackup.archive.TarWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The directories above a backup's roots that a restore may have to create (FORMAT.md §4,
 * {@code directories}): every ancestor of a root (signing key, configuration file, database,
 * media root) up to, not including, the first one that every Linux system has
 * ({@link #SURELY_EXISTING}: {@code /}, {@code /etc}, {@code /var}, {@code /var/lib}, {@code /srv},
 * {@code /opt}, {@code /home}, {@code /tmp}, …). For {@code /var/lib/matrix-synapse/media_store/local_content}
 * that is {@code /var/lib/matrix-synapse/media_store} and {@code /var/lib/matrix-synapse}; for
 * Synapse's Docker image ({@code /data/media_store/local_content}) {@code /data/media_store} and
 * {@code /data}.
 */
public final class ParentDirectories {
    /** Directories a restore never records or gives attributes to: they exist on any system. */
    public static final Set<String> SURELY_EXISTING = Set.of("", "etc", "var", "var/lib", "var/local", "var/opt", "var/cache",
            "var/spool", "var/log", "var/tmp", "srv", "opt", "home", "usr", "usr/local", "usr/share", "mnt", "media",
            "tmp", "root", "run");

    private final List<ManifestDirectory> records;
    private final Set<String> emitted = new HashSet<>();

    private ParentDirectories(List<ManifestDirectory> records) {
        this.records = records;
    }

    /** The records for {@code roots} (absolute paths), outermost first. */
    public static ParentDirectories of(Collection<Path> roots) throws IOException {
        Map<String, Path> dirs = new TreeMap<>(); // a parent's name sorts before its children's
        for (Path root : roots) {
            for (Path p = root.toAbsolutePath().normalize().getParent(); p != null; p = p.getParent()) {
                String name = Manifest.entryName(p);
                if (SURELY_EXISTING.contains(name)) {
                    break;
                }
                dirs.put(name, p);
            }
        }
        List<ManifestDirectory> records = new ArrayList<>();
        for (Map.Entry<String, Path> d : dirs.entrySet()) {
            try {
                // Followed if it is a link: a restore creates a directory with the attributes of the real one.
                Map<String, Object> a = Files.readAttributes(d.getValue(), "unix:mode,uid,gid,owner,group,lastModifiedTime");
                records.add(new ManifestDirectory(d.getKey(), (Integer) a.get("mode") & 07777, (Integer) a.get("uid"),
                        (Integer) a.get("gid"), name(a.get("owner")), name(a.get("group")),
                        ((FileTime) a.get("lastModifiedTime")).toInstant().truncatedTo(ChronoUnit.MICROS)));
            } catch (NoSuchFileException e) {
                // a root that does not exist is not backed up either
            }
        }
        return new ParentDirectories(records);
    }

    private static String name(Object principal) {
        String n = principal instanceof UserPrincipal u ? u.getName() : principal instanceof GroupPrincipal g ? g.getName() : null;
        // a uid or gid without a name comes back as digits
        return n == null || n.isEmpty() || n.chars().allMatch(Character::isDigit) ? null : n;
    }

    public List<ManifestDirectory> records() {
        return records;
    }

    /**
     * Archives the recorded directories above {@code entryName} not archived yet, outermost
     * first, so that stock {@code tar -x} creates them with their owner and mode before it
     * writes anything into them.
     */
    public void before(TarWriter tar, String entryName) throws IOException {
        for (ManifestDirectory d : records) {
            if (entryName.startsWith(d.path() + "/") && emitted.add(d.path())) {
                try {
                    tar.addDirectory(Path.of("/" + d.path()).toRealPath(), d.path()); // a link: what it points to
                } catch (NoSuchFileException e) {
                    // removed since it was recorded: the manifest's record stays
                }
            }
        }
    }
}
