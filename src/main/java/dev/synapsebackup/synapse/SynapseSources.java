package dev.synapsebackup.synapse;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.io.LookAheadIterator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a homeserver needs backed up (SPEC §4), derived from its configuration: the
 * configuration files, the signing key, the database and the local media.
 *
 * <p>Media roots are {@code local_content} and {@code local_thumbnails}, plus
 * {@code remote_content} and {@code remote_thumbnail} when remote media is included; the URL
 * preview caches ({@code url_cache}, {@code url_cache_thumbnails}) never are: Synapse rebuilds
 * them on demand. Roots that do not exist are left out.
 *
 * <p>The media walk ({@link #walkMedia}, {@link #media()}) streams: it lists one directory at a
 * time, sorted by name, so memory grows with the depth of the tree and the size of the largest
 * single directory, never with the tree. Its order is deterministic (pre-order, each
 * directory's entries sorted by name). Symbolic links below the roots are skipped with a
 * warning (a restore refuses links anyway); a root that is itself a link (media on another
 * disk) is followed. Files and directories deleted while the walk runs are skipped silently:
 * Synapse deletes media while it runs. A file may of course still vanish or change after it has
 * been reported; the reader of its bytes must cope with that.
 */
public final class SynapseSources {
    private static final Logger LOG = LoggerFactory.getLogger(SynapseSources.class);

    /** Role of the configuration files in {@link #roles()}. */
    public static final String ROLE_CONFIG = "config";
    /** Role of the signing key(s). */
    public static final String ROLE_SIGNING_KEY = "signing-key";
    /** Role of the SQLite database file. */
    public static final String ROLE_DATABASE = "database";
    /** Role of the media roots. */
    public static final String ROLE_MEDIA = "media";

    /** Media directories always backed up. */
    public static final List<String> LOCAL_MEDIA_DIRS = List.of("local_content", "local_thumbnails");
    /** Media directories backed up with {@code --include-remote-media}. */
    public static final List<String> REMOTE_MEDIA_DIRS = List.of("remote_content", "remote_thumbnail");
    /** Media directories never backed up (caches of URL previews). */
    public static final List<String> CACHE_MEDIA_DIRS = List.of("url_cache", "url_cache_thumbnails");

    private final String serverName;
    private final List<Path> configFiles;
    private final List<Path> signingKeys;
    private final DatabaseConfig database;
    private final Path mediaStore;
    private final List<Path> mediaRoots;
    private final boolean includeRemoteMedia;

    private SynapseSources(String serverName, List<Path> configFiles, List<Path> signingKeys,
            DatabaseConfig database, Path mediaStore, List<Path> mediaRoots, boolean includeRemoteMedia) {
        this.serverName = serverName;
        this.configFiles = List.copyOf(configFiles);
        this.signingKeys = List.copyOf(signingKeys);
        this.database = database;
        this.mediaStore = mediaStore;
        this.mediaRoots = List.copyOf(mediaRoots);
        this.includeRemoteMedia = includeRemoteMedia;
    }

    /**
     * The sources of the homeserver {@code cfg} describes.
     *
     * @throws ConfigException the signing key is missing (a backup without it is useless)
     */
    public static SynapseSources of(HomeserverConfig cfg, boolean includeRemoteMedia) {
        Set<Path> config = new LinkedHashSet<>(cfg.configFiles());
        cfg.logConfig().ifPresent(log -> {
            if (Files.isRegularFile(log)) {
                config.add(log);
            } else {
                LOG.warn("log_config {} does not exist: it is not backed up", log);
            }
        });
        for (Path as : cfg.appServiceConfigFiles()) {
            if (Files.isRegularFile(as)) {
                config.add(as);
            } else {
                LOG.warn("app_service_config_files entry {} does not exist: it is not backed up", as);
            }
        }
        Path key = cfg.signingKeyPath();
        if (!Files.isRegularFile(key)) {
            throw new ConfigException("signing key " + key + " (signing_key_path) does not exist"
                    + " or is not a regular file; a backup without it cannot restore the server's identity");
        }
        Path store = cfg.mediaStorePath();
        List<String> names = new ArrayList<>(LOCAL_MEDIA_DIRS);
        if (includeRemoteMedia) {
            names.addAll(REMOTE_MEDIA_DIRS);
        }
        Collections.sort(names); // walk order is path order
        List<Path> roots = new ArrayList<>();
        if (!Files.isDirectory(store)) {
            LOG.warn("media store {} (media_store_path) does not exist: no media is backed up", store);
        } else {
            for (String n : names) {
                Path root = store.resolve(n);
                if (Files.isDirectory(root)) {
                    roots.add(root);
                }
            }
        }
        return new SynapseSources(cfg.serverName(), new ArrayList<>(config), List.of(key),
                cfg.database(), store, roots, includeRemoteMedia);
    }

    /** {@code server_name} of the homeserver. */
    public String serverName() {
        return serverName;
    }

    /** Configuration files to back up: the files read, log_config, app service files (existing ones). */
    public List<Path> configFiles() {
        return configFiles;
    }

    /** The signing key file(s). */
    public List<Path> signingKeys() {
        return signingKeys;
    }

    /** The database, to be captured by an online snapshot or a dump, never by a file copy. */
    public DatabaseConfig database() {
        return database;
    }

    /** The media store directory ({@code media_store_path}). */
    public Path mediaStore() {
        return mediaStore;
    }

    /** The existing media roots that are backed up, in walk order. */
    public List<Path> mediaRoots() {
        return mediaRoots;
    }

    /** Whether remote media is included. */
    public boolean includesRemoteMedia() {
        return includeRemoteMedia;
    }

    /**
     * Source roots by role, for the manifest: {@code config}, {@code signing-key},
     * {@code database} (only for SQLite: a PostgreSQL database has no path) and {@code media}.
     * Values are absolute paths.
     */
    public Map<String, List<String>> roles() {
        Map<String, List<String>> roles = new LinkedHashMap<>();
        roles.put(ROLE_CONFIG, strings(configFiles));
        roles.put(ROLE_SIGNING_KEY, strings(signingKeys));
        if (database instanceof DatabaseConfig.Sqlite s) {
            roles.put(ROLE_DATABASE, List.of(s.path().toString()));
        }
        roles.put(ROLE_MEDIA, strings(mediaRoots));
        return Collections.unmodifiableMap(roles);
    }

    private static List<String> strings(List<Path> paths) {
        return paths.stream().map(Path::toString).toList();
    }

    /**
     * Walks the media roots in sorted pre-order, calling {@code visitor} for every directory
     * (roots included) and regular file.
     *
     * @throws IOException what the visitor throws
     * @throws SynapseBackupException a directory cannot be read (other than vanishing)
     */
    public void walkMedia(MediaVisitor visitor) throws IOException {
        Iterator<MediaEntry> it = mediaIterator();
        while (it.hasNext()) {
            visitor.visit(it.next());
        }
    }

    /** The media walk as a lazy, sequential stream (see {@link #walkMedia}). */
    public Stream<MediaEntry> media() {
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(mediaIterator(),
                Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.DISTINCT), false);
    }

    /** The media walk as a lazy iterator (see {@link #walkMedia}). */
    public Iterator<MediaEntry> mediaIterator() {
        return new Walk(mediaRoots);
    }

    /** Depth-first walk holding one sorted listing per level. */
    private static final class Walk extends LookAheadIterator<MediaEntry> {
        /** One lstat gives all of these, with owner and mode as numbers (no user-name lookup). */
        private static final String UNIX_ATTRIBUTES =
                "unix:isRegularFile,isDirectory,isSymbolicLink,size,lastModifiedTime,ctime,mode,uid,gid";
        private final Deque<Iterator<Path>> stack = new ArrayDeque<>();
        private final boolean unix;

        Walk(List<Path> roots) {
            stack.push(roots.iterator());
            this.unix = !roots.isEmpty()
                    && roots.get(0).getFileSystem().supportedFileAttributeViews().contains("unix");
        }

        @Override
        protected MediaEntry advance() {
            while (!stack.isEmpty()) {
                Iterator<Path> top = stack.peek();
                if (!top.hasNext()) {
                    stack.pop();
                    continue;
                }
                boolean root = stack.size() == 1; // the roots' own iterator
                Path p = top.next();
                Attributes attrs;
                try {
                    attrs = root ? read(p) : read(p, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException e) {
                    LOG.debug("{} vanished during the media walk", p);
                    continue;
                } catch (IOException e) {
                    throw new SynapseBackupException("cannot read the attributes of " + p + ": " + e.getMessage(), e);
                }
                if (attrs.symlink) {
                    LOG.warn("skipping symbolic link {} in the media store", p);
                    continue;
                }
                if (attrs.entry == null) {
                    LOG.warn("skipping {} in the media store: not a regular file or directory", p);
                    continue;
                }
                if (attrs.entry.directory()) {
                    List<Path> children = list(p);
                    if (children == null) {
                        continue; // vanished
                    }
                    stack.push(children.iterator());
                }
                return attrs.entry;
            }
            return null;
        }

        /** A file or directory as an entry; or a symbolic link; or null for anything else. */
        private record Attributes(MediaEntry entry, boolean symlink) {
        }

        private Attributes read(Path p, LinkOption... options) throws IOException {
            if (!unix) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, options);
                boolean wanted = a.isDirectory() || a.isRegularFile();
                return new Attributes(wanted ? new MediaEntry(p, a.isDirectory(), a.size(), a.lastModifiedTime(),
                        -1, -1, -1, null) : null, a.isSymbolicLink());
            }
            Map<String, Object> a = Files.readAttributes(p, UNIX_ATTRIBUTES, options);
            boolean dir = (Boolean) a.get("isDirectory");
            boolean wanted = dir || (Boolean) a.get("isRegularFile");
            return new Attributes(wanted ? new MediaEntry(p, dir, (Long) a.get("size"),
                    (FileTime) a.get("lastModifiedTime"), (Integer) a.get("mode") & 07777, (Integer) a.get("uid"),
                    (Integer) a.get("gid"), (FileTime) a.get("ctime")) : null, (Boolean) a.get("isSymbolicLink"));
        }

        /** The directory's entries sorted by name, or null if it vanished. */
        private static List<Path> list(Path dir) {
            List<Path> children = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path c : ds) {
                    children.add(c);
                }
            } catch (NoSuchFileException | NotDirectoryException e) {
                LOG.debug("{} vanished during the media walk", dir);
                return null;
            } catch (IOException | UncheckedIOException e) {
                throw new SynapseBackupException("cannot list media directory " + dir + ": " + e.getMessage(), e);
            }
            children.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
            return children;
        }
    }

    @Override
    public String toString() {
        return "SynapseSources" + roles();
    }
}
