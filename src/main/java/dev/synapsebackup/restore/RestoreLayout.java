package dev.synapsebackup.restore;

import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.UnsafeEntryException;
import dev.synapsebackup.archive.SafeExtractor;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestDirectory;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.Roots;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.HomeserverConfig;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where entries go: into {@code --target}, or into a staging directory beside each live unit
 * ({@code <parent>/.synapse-restore-<id>/}, holding the full path below it), so that the swap is
 * a rename on one filesystem.
 */
final class RestoreLayout {
    private static final Logger LOG = LoggerFactory.getLogger(RestoreLayout.class);

    /** One live path that a restore replaces as a whole: a file, or a media directory. */
    record Unit(Path live, boolean directory, boolean sqlite) {
        String entryName() {
            return Manifest.entryName(live);
        }
    }

    /** The {@code --target} directory, or null for a live restore. */
    final Path target;
    private final String id;
    /** Units by entry name; for backups of other tools, discovered as entries arrive. */
    private final Map<String, Unit> units = new TreeMap<>();
    /** Directories entries may be in (charm backups): config dir, database dir, media store. */
    private final List<String> allowedDirs = new ArrayList<>();
    private String mediaStore;
    private boolean dynamic;
    /** The extractors into staging (or --target) directories. */
    private final StagingDirs staging;
    private final Map<String, Integer> counts = new HashMap<>();
    /** The live directories above the units (a live restore creates the missing ones). */
    final LiveDirectories dirs = new LiveDirectories();

    private RestoreLayout(Path target, String id) {
        this.target = target;
        this.id = id;
        this.staging = new StagingDirs(target == null);
    }

    static RestoreLayout target(Path target) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new SynapseBackupException("--target " + target + " exists and is not a directory");
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(target)) {
                if (ds.iterator().hasNext()) {
                    throw new SynapseBackupException("--target " + target + " is not empty: restore into an empty or new"
                            + " directory");
                }
            }
        }
        return new RestoreLayout(target, null);
    }

    private void add(Path root, boolean dir, boolean sqlite) {
        Path live = root.toAbsolutePath().normalize();
        units.put(Manifest.entryName(live), new Unit(live, dir, sqlite));
    }

    static RestoreLayout fromManifest(ManifestSummary s, String id) {
        RestoreLayout l = new RestoreLayout(null, id);
        String db = null;
        Roots roots = s.roots();
        for (List<String> files : List.of(roots.config(), roots.signingKeys())) {
            files.forEach(p -> l.add(Path.of(p), false, false));
        }
        for (String p : roots.database()) {
            l.add(Path.of(p), false, true);
            db = p;
        }
        roots.media().forEach(p -> l.add(Path.of(p), true, false));
        if (db == null && s.database() instanceof DatabaseRecord.Sqlite sqlite && sqlite.path() != null) {
            l.add(Path.of(sqlite.path()), false, true);
        }
        for (ManifestDirectory d : s.directories()) {
            l.dirs.record(d, true);
        }
        return l;
    }

    static RestoreLayout fromHomeserver(HomeserverConfig hs, String id) {
        RestoreLayout l = new RestoreLayout(null, id);
        l.dynamic = true;
        l.allowedDirs.add(Manifest.entryName(hs.configDir().toAbsolutePath().normalize()));
        if (hs.database() instanceof DatabaseConfig.Sqlite s) {
            Path db = s.path().toAbsolutePath().normalize();
            l.allowedDirs.add(Manifest.entryName(db.getParent()));
            l.units.put(Manifest.entryName(db), new Unit(db, false, true));
        }
        l.mediaStore = Manifest.entryName(hs.mediaStorePath().toAbsolutePath().normalize());
        l.allowedDirs.add(l.mediaStore);
        return l;
    }

    /**
     * Whether an entry is restored; false for entries this restore skips (the reserved
     * directory in a live restore, directories above the restored paths).
     *
     * @throws UnsafeEntryException for an entry outside the paths this backup may restore
     */
    boolean accept(TarReader.Entry e) {
        String name = e.name();
        if (target != null) {
            return true;
        }
        if (name.equals(".synapse-backup") || name.startsWith(Manifest.RESERVED_DIR)) {
            return false; // never written into the live filesystem
        }
        Unit u = unitOf(name);
        if (u == null && dynamic) {
            u = discover(name, e.type() == TarReader.Type.DIRECTORY);
        }
        if (u == null) {
            if (e.type() == TarReader.Type.DIRECTORY && (dirs.isRecorded(name) || isAncestorOfUnitOrAllowed(name))) {
                // e.g. /var/lib/matrix-synapse itself: not ours to replace, but what to create it as if it is missing
                dirs.record(new ManifestDirectory(name, e.mode(), e.uid(), e.gid(), e.userName(), e.groupName(),
                        e.mtime()), false);
                return false;
            }
            throw new UnsafeEntryException(e.rawName(), "outside the Synapse paths this backup may restore");
        }
        return true;
    }

    /** The extractor for an accepted entry. */
    SafeExtractor extractorFor(TarReader.Entry e) throws IOException {
        if (target != null) {
            return staging.extractor(target);
        }
        Unit u = unitOf(e.name());
        dirs.ensure(u.live.getParent(), e);
        return staging.extractor(stagingDirFor(u.live));
    }

    /** The missing directories above the units, as a restore would create them (for --dry-run). */
    List<String> plannedDirs() {
        return dirs.planned(units.values().stream().map(Unit::live).toList());
    }

    Unit unitOf(String name) {
        for (Map.Entry<String, Unit> u : units.entrySet()) {
            String k = u.getKey();
            if (name.equals(k) || (u.getValue().directory && name.startsWith(k + "/"))) {
                return u.getValue();
            }
        }
        return null;
    }

    private Unit discover(String name, boolean isDirectory) {
        if (mediaStore != null && name.startsWith(mediaStore + "/")) {
            String rest = name.substring(mediaStore.length() + 1);
            String first = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
            if (!rest.contains("/") && !isDirectory) {
                return null; // a file directly in the media store: not Synapse's layout
            }
            Unit u = new Unit(Path.of("/" + mediaStore, first), true, false);
            units.put(Manifest.entryName(u.live), u);
            return u;
        }
        if (isDirectory) {
            return null;
        }
        for (String dir : allowedDirs) {
            if (name.startsWith(dir + "/") && !dir.equals(mediaStore)) {
                Unit u = new Unit(Path.of("/" + name), false, false);
                units.put(name, u);
                return u;
            }
        }
        return null;
    }

    private boolean isAncestorOfUnitOrAllowed(String name) {
        for (String k : units.keySet()) {
            if (k.startsWith(name + "/")) {
                return true;
            }
        }
        for (String d : allowedDirs) {
            if (d.equals(name) || d.startsWith(name + "/") || name.startsWith(d + "/")) {
                return true;
            }
        }
        return false;
    }

    Path stagingDirFor(Path live) {
        return live.getParent().resolve(".synapse-restore-" + id);
    }

    Path anyStagingDir() {
        return units.isEmpty() ? Path.of("/") : stagingDirFor(units.values().iterator().next().live);
    }

    Path stagedPath(Unit u) {
        return stagingDirFor(u.live).resolve(u.entryName());
    }

    void count(String name) {
        if (target == null) {
            Unit u = unitOf(name);
            if (u != null) {
                counts.merge(u.entryName(), 1, Integer::sum);
            }
        }
    }

    List<Unit> unitsInOrder() {
        List<Unit> list = new ArrayList<>(units.values());
        list.sort(Comparator.comparing(Unit::entryName));
        return list;
    }

    List<String> describeChanges() {
        List<String> lines = new ArrayList<>();
        if (target != null) {
            lines.add("restore into " + target);
            return lines;
        }
        for (Unit u : unitsInOrder()) {
            int n = counts.getOrDefault(u.entryName(), 0);
            if (n == 0 && !u.directory) {
                continue;
            }
            boolean exists = Files.exists(u.live, LinkOption.NOFOLLOW_LINKS);
            lines.add((exists ? "replace " : "create ") + u.live + (u.directory ? " (" + n + " files)" : ""));
        }
        return lines;
    }

    void finishExtraction() throws IOException {
        staging.finish();
    }

    void discardStaged(String entryName) throws IOException {
        if (target != null) {
            return;
        }
        Unit u = unitOf(entryName);
        if (u != null) {
            Files.deleteIfExists(stagingDirFor(u.live).resolve(entryName));
        }
    }

    /** Staging failed: remove what was extracted (into --target, only what we wrote). */
    void abandon() {
        if (target != null) {
            if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(target)) {
                    for (Path p : ds) {
                        WorkDir.deleteTemporary(p);
                    }
                } catch (IOException e) {
                    LOG.warn("cannot clean up {}: {}", target, e.toString());
                }
            }
            return;
        }
        removeStaging();
        dirs.removeCreated();
    }

    void removeStaging() {
        staging.remove();
    }
}
