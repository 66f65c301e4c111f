package dev.synapsebackup.restore;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.Progress;
import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.MediaObject;
import dev.synapsebackup.manifest.MediaStore;
import dev.synapsebackup.manifest.MediaSummary;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3MediaBucket;
import dev.synapsebackup.repository.StoredObject;
import dev.synapsebackup.synapse.S3MediaProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a backup's S3-held media back (FORMAT.md §10): into the live media bucket, copying only the
 * objects that are missing there or differ in size or ETag and deleting nothing; or as files under
 * {@code <target>/s3-media/<bucket>/<key>} for {@code restore --target}. The backup's records are
 * streamed and, for the live bucket, merged with its listing in key order: memory stays flat.
 */
public final class MediaRestore {
    private static final Logger LOG = LoggerFactory.getLogger(MediaRestore.class);
    /** The directory under a {@code --target} that holds the media objects, by bucket. */
    public static final String TARGET_DIR = "s3-media";
    private static final int PARALLELISM = 8;

    private MediaRestore() {
    }

    /** What was done: objects the backup lists, objects written, their bytes. */
    public record Result(long listed, long written, long bytes) {
    }

    /**
     * Writes every media object of the backup under {@code target/s3-media/<bucket>/<key>},
     * checking size and (where recorded) SHA-256.
     */
    public static Result toTarget(Repository repo, Path manifestFile, Path target, Progress progress)
            throws IOException {
        return toTarget(repo, manifestFile, target, null, progress);
    }

    /**
     * As {@link #toTarget(Repository, Path, Path, Progress)}; encrypted copies are decrypted with
     * {@code opener} (null: the backup has none), their MDC checked before the file is renamed into place.
     */
    public static Result toTarget(Repository repo, Path manifestFile, Path target, Opener opener, Progress progress)
            throws IOException {
        long listed = 0;
        long bytes = 0;
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            skipFiles(it);
            Iterator<MediaObject> media = it.media();
            while (media.hasNext()) {
                MediaObject m = media.next();
                Path file = safeFile(target.resolve(TARGET_DIR), m.bucket(), m.key());
                Files.createDirectories(file.getParent());
                Path tmp = file.resolveSibling("." + file.getFileName() + ".partial");
                MessageDigest digest = Sha256.newDigest();
                long n;
                try (InputStream in = new DigestInputStream(open(repo, m, opener), digest);
                     OutputStream out = Files.newOutputStream(tmp)) {
                    n = in.transferTo(out);
                }
                check(m, n, digest);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                listed++;
                bytes += n;
                progress.advance(n);
            }
        }
        return new Result(listed, listed, bytes);
    }

    /**
     * Copies into each live media bucket the objects of the backup that it lacks or holds in
     * another version (size or ETag), streamed through this host; nothing in the bucket is
     * deleted.
     *
     * @param providers the homeserver's S3 media providers now (their credentials), may be empty
     */
    public static Result toLive(Repository repo, Path manifestFile, MediaSummary media,
            List<S3MediaProvider> providers, Progress progress) throws IOException {
        return toLive(repo, manifestFile, media, providers, null, progress);
    }

    /**
     * As {@link #toLive(Repository, Path, MediaSummary, List, Progress)}; an encrypted copy is
     * decrypted with {@code opener} into a file of the run's work directory, its MDC, size and
     * SHA-256 checked, and only then uploaded: no unverified plaintext reaches the live bucket.
     */
    public static Result toLive(Repository repo, Path manifestFile, MediaSummary media,
            List<S3MediaProvider> providers, Opener opener, Progress progress) throws IOException {
        long listed = 0;
        AtomicLong written = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLELISM, r -> {
            Thread t = new Thread(r, "media-restore");
            t.setDaemon(true);
            return t;
        });
        try {
            for (MediaStore store : media.stores()) {
                S3MediaProvider live = providers.stream()
                        .filter(p -> p.bucket().equals(store.bucket()) && Objects.equals(p.endpoint(), store.endpoint()))
                        .findFirst().orElse(null);
                S3Parameters params = live != null ? live.toParameters() : recorded(store);
                String storageClass = live == null ? null : live.storageClass();
                progress.start("restoring media into " + store.location(), -1);
                try (S3MediaBucket bucket = new S3MediaBucket(params, null, PARALLELISM * 2, 1000)) {
                    for (String keyPrefix : store.keyPrefixes()) {
                        listed += restorePrefix(repo, manifestFile, store, keyPrefix, bucket, storageClass, opener,
                                pool, written, bytes, progress);
                    }
                }
                progress.finish();
            }
        } finally {
            pool.shutdownNow();
        }
        LOG.info("media: {} objects listed in the backup, {} ({} bytes) copied back", listed, written.get(), bytes.get());
        return new Result(listed, written.get(), bytes.get());
    }

    /**
     * The records of one key prefix (one media directory) merged with the live listing of it:
     * both are in key order.
     */
    private static long restorePrefix(Repository repo, Path manifestFile, MediaStore store, String keyPrefix,
            S3MediaBucket bucket, String storageClass, Opener opener, ExecutorService pool, AtomicLong written,
            AtomicLong bytes, Progress progress) throws IOException {
        long listed = 0;
        {
            try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
                skipFiles(it);
                Iterator<MediaObject> records = it.media();
                Iterator<StoredObject> listing = bucket.list(keyPrefix);
                StoredObject current = listing.hasNext() ? listing.next() : null;
                List<Future<Long>> window = new ArrayList<>();
                while (records.hasNext()) {
                    MediaObject m = records.next();
                    if (m.store() != store.index() || !m.key().startsWith(keyPrefix)) {
                        continue;
                    }
                    listed++;
                    while (current != null && MediaObject.KEY_ORDER.compare(current.key(), m.key()) < 0) {
                        current = listing.hasNext() ? listing.next() : null;
                    }
                    if (current != null && current.key().equals(m.key()) && current.size() == m.size()
                            && Objects.equals(current.eTag(), m.eTag())) {
                        continue;
                    }
                    window.add(pool.submit(() -> {
                        if (m.encrypted()) {
                            putDecrypted(repo, m, opener, bucket, storageClass);
                        } else {
                            try (InputStream in = repo.open(m.repositoryKey())) {
                                bucket.put(m.key(), in, m.size(), storageClass);
                            }
                        }
                        written.incrementAndGet();
                        bytes.addAndGet(m.size());
                        return m.size();
                    }));
                    if (window.size() >= PARALLELISM * 4) {
                        drain(window, progress);
                    }
                }
                drain(window, progress);
            }
        }
        return listed;
    }

    /** Decrypts {@code m}'s copy into a work file, checks it whole (MDC, size, SHA-256), then uploads it. */
    private static void putDecrypted(Repository repo, MediaObject m, Opener opener, S3MediaBucket bucket,
            String storageClass) throws IOException {
        Path tmp = Files.createTempFile(WorkDir.get(), "media-", ".partial");
        try {
            MessageDigest digest = Sha256.newDigest();
            long n;
            try (InputStream in = new DigestInputStream(open(repo, m, opener), digest);
                 OutputStream out = Files.newOutputStream(tmp)) {
                n = in.transferTo(out); // the opener checks the MDC at the end of the message
            }
            check(m, n, digest);
            try (InputStream in = Files.newInputStream(tmp)) {
                bucket.put(m.key(), in, n, storageClass);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The plaintext of {@code m}'s copy: decrypted when it is encrypted. */
    static InputStream open(Repository repo, MediaObject m, Opener opener) throws IOException {
        if (!m.encrypted()) {
            return repo.open(m.repositoryKey());
        }
        if (opener == null) {
            throw new IllegalStateException("media object " + m.repositoryKey() + " is encrypted: no key given to open it");
        }
        InputStream raw = repo.open(m.repositoryKey());
        try {
            return opener.decrypt(raw);
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /** Waits for the copies in flight; progress advances here, on the calling thread. */
    private static void drain(List<Future<Long>> window, Progress progress) throws IOException {
        try {
            for (Future<Long> f : window) {
                progress.advance(f.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while restoring media");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(e.getCause());
        } finally {
            window.clear();
        }
    }

    /**
     * Shell lines for the stock-tools script: the copies of every holder of the backup's media,
     * oldest first, into {@code "$partial"/s3-media/} (a newer copy of a key replaces an older
     * one), then the removal of what older holders have that the backup does not list (deleted
     * since), found by merging each holder's own records with the backup's, both in key order.
     * Ends with the commented {@code aws s3 sync} that puts the media back into the live bucket.
     *
     * @param config       the repository configuration
     * @param id           the backup
     * @param manifestFile its decrypted manifest
     * @param manifests    the decrypted manifest of another backup of the chain, by id
     */
    public static List<String> scriptLines(dev.synapsebackup.config.ToolConfig config, String id, Path manifestFile,
            java.util.function.Function<String, Path> manifests) throws IOException {
        MediaSummary media;
        java.util.SortedSet<String> holders = new java.util.TreeSet<>();
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            skipFiles(it);
            it.media().forEachRemaining(m -> holders.add(m.backup()));
            media = it.summary().media();
        }
        List<String> lines = new ArrayList<>();
        if (media.isEmpty()) {
            return lines;
        }
        lines.add("# media held in S3 (synapse-s3-storage-provider): into $partial/" + TARGET_DIR + "/<bucket>/<key>,"
                + " the copies of each backup that holds some, oldest first");
        lines.add("mkdir -p -- \"$partial/" + TARGET_DIR + "\"");
        for (String h : holders) {
            if (config.s3().isPresent()) {
                S3Parameters s3 = config.s3().get();
                String key = (s3.prefix().isEmpty() ? "" : s3.prefix() + "/") + MediaObject.holderPrefix(h);
                lines.add("aws s3 cp --recursive --only-show-errors " + StockPipeline.quote("s3://" + s3.bucket() + "/" + key)
                        + " \"$partial/" + TARGET_DIR + "/\""
                        + s3.endpoint().map(e -> " --endpoint-url " + StockPipeline.quote(e)).orElse(""));
            } else {
                Path root = config.repositoryDir().orElseThrow().toAbsolutePath().normalize();
                lines.add("cp -R -- " + StockPipeline.quote(root.resolve(MediaObject.holderPrefix(h)).toString() + "/.")
                        + " \"$partial/" + TARGET_DIR + "/\"");
            }
        }
        for (String h : holders) {
            if (h.equals(id)) {
                continue;
            }
            // What h copied that the backup no longer lists (deleted since): both lists are in name order.
            try (Manifest.FileIterator mine = Manifest.files(manifestFile);
                 Manifest.FileIterator theirs = Manifest.files(manifests.apply(h))) {
                skipFiles(mine);
                skipFiles(theirs);
                Iterator<MediaObject> b = mine.media();
                MediaObject current = b.hasNext() ? b.next() : null;
                Iterator<MediaObject> other = theirs.media();
                while (other.hasNext()) {
                    MediaObject o = other.next();
                    if (!o.backup().equals(h)) {
                        continue;
                    }
                    while (current != null && MediaObject.KEY_ORDER.compare(current.name(), o.name()) < 0) {
                        current = b.hasNext() ? b.next() : null;
                    }
                    if (current == null || !current.name().equals(o.name())) {
                        lines.add("rm -f -- \"$partial/" + TARGET_DIR + "\"/" + StockPipeline.quote(o.name()));
                    }
                }
            }
        }
        boolean encrypted = false;
        try (Manifest.FileIterator it = Manifest.files(manifestFile)) {
            skipFiles(it);
            Iterator<MediaObject> records = it.media();
            while (records.hasNext()) {
                MediaObject m = records.next();
                if (!m.encrypted()) {
                    continue;
                }
                if (!encrypted) {
                    encrypted = true;
                    lines.add("# copies made with media-encryption are OpenPGP messages: each is decrypted in place"
                            + " (set -e stops the script, and it removes $partial, if gpg fails: a damaged copy's MDC)");
                    lines.add("media_decrypt() { " + StockPipeline.decryptCommand(config)
                            + " --output \"$1.gpg-plain\" -- \"$1\"; mv -f -- \"$1.gpg-plain\" \"$1\"; }");
                }
                lines.add("media_decrypt \"$partial/" + TARGET_DIR + "\"/" + StockPipeline.quote(m.name()));
            }
        }
        for (MediaStore store : media.stores()) {
            lines.add("# To put them back into the live bucket (copies what is missing or different, deletes nothing),"
                    + " with that bucket's credentials:");
            lines.add("#   aws s3 sync \"$target/" + TARGET_DIR + "/" + urlSafe(store.bucket()) + "/\" "
                    + urlSafe("s3://" + store.bucket() + "/")
                    + (store.endpoint() == null ? "" : " --endpoint-url " + urlSafe(store.endpoint())));
        }
        return lines;
    }

    /** {@code s} for a comment line: URL characters kept, anything else as {@code ?}. */
    private static String urlSafe(String s) {
        return s.replaceAll("[^A-Za-z0-9._:/-]", "?");
    }

    /** The recorded location, with the AWS default credential chain. */
    private static S3Parameters recorded(MediaStore store) {
        return S3Parameters.builder().bucket(store.bucket()).endpoint(store.endpoint())
                .region(store.region() != null ? store.region() : store.endpoint() == null ? "us-east-1" : null)
                .uriStyle(store.endpoint() != null ? "path" : "host").build();
    }

    static void skipFiles(Manifest.FileIterator it) {
        while (it.hasNext()) {
            it.next();
        }
    }

    private static void check(MediaObject m, long n, MessageDigest digest) {
        if (n != m.size()) {
            throw new IntegrityException("media object " + m.repositoryKey() + " has " + n + " bytes, the manifest says "
                    + m.size());
        }
        if (m.sha256() != null && !m.sha256().equals(Sha256.hex(digest.digest()))) {
            throw new IntegrityException("media object " + m.repositoryKey() + " does not match its SHA-256");
        }
    }

    /** {@code root/bucket/key} as a file, refusing keys that would leave it or are no file name. */
    static Path safeFile(Path root, String bucket, String key) {
        String name = bucket + "/" + key;
        for (String segment : name.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..") || segment.indexOf('\0') >= 0) {
                throw new IntegrityException("media object key \"" + key + "\" cannot be a file name below " + root);
            }
        }
        Path p = root.resolve(name).normalize();
        if (!p.startsWith(root)) {
            throw new IntegrityException("media object key \"" + key + "\" leaves " + root);
        }
        return p;
    }
}
