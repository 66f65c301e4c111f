package dev.synapsebackup.testing;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A store that the repository conformance suite runs against: a local directory, or one S3
 * server on loopback. It hands out isolated {@linkplain Space spaces} (a fresh bucket, or a
 * fresh directory) and says which addressing it serves.
 */
public interface TestStore extends AutoCloseable {
    /** Whether the store serves virtual-hosted addressing ({@code <bucket>.<host>}). */
    enum VirtualHosts {
        /** Serves it: a client in host style reaches the bucket. */
        SERVED,
        /** Does not: a request to {@code <bucket>.<host>} is answered as something else. */
        NOT_SERVED,
        /** Not an S3 store: no addressing style at all, and asking for one is a configuration error. */
        NOT_APPLICABLE
    }

    /** A known limitation of a store, which the suite asserts as the tool's documented answer to it. */
    enum Limit {
        /** ListMultipartUploads answers 501: the clean-up of interrupted uploads is a warning. */
        NO_MULTIPART_LISTING,
        /** {@code If-None-Match: *} is ignored (a second conditional put succeeds): the lock falls back to write-then-list. */
        IGNORES_IF_NONE_MATCH
    }

    /** A short name for messages. */
    String name();

    /** Starts the store (no-op for a directory) and waits until it answers. */
    void start();

    /** Stops the store and removes what it stored. */
    @Override
    void close();

    /** Which addressing the store serves. */
    VirtualHosts virtualHosts();

    /** The store's known limitations. */
    default java.util.Set<Limit> limits() {
        return java.util.Set.of();
    }

    /** A new, empty bucket (or directory) named after {@code name}. */
    Space newSpace(String name);

    /**
     * One isolated place in the store. Keys are full keys from the bucket's root (for a local
     * store: paths relative to the root directory), so that a test can put objects under the
     * repository's prefix, nested below it, and beside it.
     */
    interface Space {
        /** Command-line options that select the repository under {@code path}, path-style for S3. */
        List<String> repoArgs(String path);

        /**
         * Options that select it with virtual-hosted addressing ({@code --s3-uri-style host});
         * a client needs {@link #hostsFile()} to resolve the bucket's host name.
         */
        List<String> virtualHostArgs(String path);

        /** A hosts file mapping this space's host names to 127.0.0.1 (for {@code -Djdk.net.hosts.file}). */
        Path hostsFile();

        /** Environment the command line needs (the store's access keys). */
        Map<String, String> env();

        /** The secret key the store accepts (for the printed stock-tools procedure), or null. */
        String secretKey();

        /** Stores an object directly (not through the tool). */
        void put(String key, byte[] content);

        /** Stores many small objects directly, in parallel. */
        void putAll(Collection<String> keys, byte[] content);

        /** Every key in the space, sorted (past 1,000 keys). */
        List<String> keys();
    }

    /** A free TCP port on the loopback address. */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
