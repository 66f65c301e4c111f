package dev.synapsebackup.bench;

import dev.synapsebackup.testing.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs the test fixture's S3Proxy as a stand-alone server for bench/run.sh: a filesystem store
 * (so objects do not count against the heap of this process), loopback only, AWS v4 signatures
 * with {@link S3ProxyServer#ACCESS_KEY}/{@link S3ProxyServer#SECRET_KEY}.
 *
 * <p>Usage: {@code S3ProxyMain STORE_DIR BUCKET...}. Creates the buckets, prints
 * {@code endpoint=http://localhost:PORT} on stdout once it accepts requests, then runs until killed.
 */
public final class S3ProxyMain {
    private S3ProxyMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: S3ProxyMain STORE_DIR [BUCKET...]");
            System.exit(2);
        }
        Path store = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(store);
        S3ProxyServer server = S3ProxyServer.onFilesystem(store);
        server.start();
        for (int i = 1; i < args.length; i++) {
            if (!Files.isDirectory(store.resolve(args[i]))) {
                server.createBucket(args[i]);
            }
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "s3proxy-stop"));
        // "localhost", not 127.0.0.1: the server is set up for virtual hosts under "localhost" and
        // would take any other host name for a bucket.
        System.out.println("endpoint=" + server.endpoint());
        System.out.flush();
        Thread.currentThread().join();
    }
}
