package dev.synapsebackup.testing;

import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import java.net.UnknownHostException;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SystemDefaultDnsResolver;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * A real S3 server for tests: S3Proxy running in-process on a free loopback port, with AWS
 * v2/v4 signature checking on, backed by an in-memory ({@link #inMemory()}) or on-disk
 * ({@link #onFilesystem()}) blob store.
 *
 * <p>Use it as a JUnit 5 extension:
 * <pre>{@code
 * @RegisterExtension
 * static final S3ProxyServer S3 = S3ProxyServer.inMemory();   // started once for the class
 *
 * @Test void test() {
 *     S3.createBucket("b");
 *     S3Parameters p = S3.parameters("b").path("/prod").build();   // path-style, right keys
 *     try (S3Repository repo = S3Repository.builder(p).build()) { ... }
 * }
 * }</pre>
 * Registered on a static field it starts before all tests and stops after them; on an instance
 * field, around each test. It can also be driven by hand: {@link #start()}, {@link #stop()}
 * (simulates a server cut: connections are refused, the store is kept), {@link #start()} again
 * (same port, same store), {@link #close()} (stops and deletes a temporary store directory).
 *
 * <p>Virtual-hosted addressing: the server treats {@code <bucket>.localhost} as bucket-in-host
 * and a plain {@code localhost} host as path-style (so {@link #endpoint()} uses that name).
 * Use {@link #virtualHostParameters(String)} and give the client {@link #LOCALHOST_RESOLVER},
 * since {@code *.localhost} does not resolve on every machine.
 */
public final class S3ProxyServer implements AutoCloseable, BeforeAllCallback, AfterAllCallback,
        BeforeEachCallback, AfterEachCallback {

    /** Access key id the server accepts. */
    public static final String ACCESS_KEY = "test-access-key";
    /** Secret access key the server accepts. */
    public static final String SECRET_KEY = "test-secret-key-0123456789";
    /** Host name whose sub-domains the server serves as buckets. */
    public static final String VIRTUAL_HOST = "localhost";

    /**
     * Resolves {@code localhost} and every {@code *.localhost} name to 127.0.0.1, everything
     * else as the system does. For {@code S3Repository.builder(..).dnsResolver(..)}.
     */
    public static final DnsResolver LOCALHOST_RESOLVER = new SystemDefaultDnsResolver() {
        @Override
        public InetAddress[] resolve(String host) throws UnknownHostException {
            String h = host.toLowerCase(Locale.ROOT);
            if (h.equals("localhost") || h.endsWith(".localhost")) {
                return new InetAddress[] {InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1})};
            }
            return super.resolve(host);
        }
    };

    /** {@link #LOCALHOST_RESOLVER} that also records every host name it is asked for. */
    public static DnsResolver recordingResolver(java.util.Set<String> resolved) {
        return new SystemDefaultDnsResolver() {
            @Override
            public InetAddress[] resolve(String host) throws UnknownHostException {
                resolved.add(host);
                return LOCALHOST_RESOLVER.resolve(host);
            }
        };
    }

    private final String provider;
    private final Path basedir;
    private final boolean ownsBasedir;
    private BlobStore blobStore;
    private S3Proxy proxy;
    private int port;
    private boolean startedForEach;

    private S3ProxyServer(String provider, Path basedir, boolean ownsBasedir) {
        this.provider = provider;
        this.basedir = basedir;
        this.ownsBasedir = ownsBasedir;
    }

    /** A server whose objects live in memory and vanish when it is closed. */
    public static S3ProxyServer inMemory() {
        return new S3ProxyServer("transient", null, false);
    }

    /**
     * A server whose objects live in a new temporary directory, kept across {@link #stop()} and
     * {@link #start()} and deleted by {@link #close()}.
     */
    public static S3ProxyServer onFilesystem() {
        try {
            return new S3ProxyServer("filesystem", Files.createTempDirectory("s3proxy-"), true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A server whose objects live in {@code basedir} (not deleted on close). */
    public static S3ProxyServer onFilesystem(Path basedir) {
        return new S3ProxyServer("filesystem", basedir, false);
    }

    /**
     * Starts the server (no-op if running). The first start picks a free port; later starts
     * reuse it, so clients built before a {@link #stop()} reach the restarted server.
     */
    public synchronized void start() {
        if (proxy != null) {
            return;
        }
        try {
            if (blobStore == null) {
                Properties props = new Properties();
                if (basedir != null) {
                    props.setProperty("jclouds.filesystem.basedir", basedir.toString());
                }
                blobStore = BlobStores.create(provider, props);
            }
            S3Proxy p = S3Proxy.builder()
                    .blobStore(blobStore)
                    .endpoint(URI.create("http://127.0.0.1:" + port))
                    .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                    // The SDK's multipart requests carry headers S3Proxy does not know (x-amz-mp-object-size).
                    .ignoreUnknownHeaders(true)
                    .virtualHost(VIRTUAL_HOST)
                    .build();
            p.start();
            Await.until("S3Proxy to start", java.time.Duration.ofSeconds(60), () -> p.getState().equals("STARTED"));
            port = p.getPort();
            proxy = p;
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("cannot start S3Proxy", e);
        }
    }

    /** Stops the server, keeping its objects: clients now get "connection refused". */
    public synchronized void stop() {
        if (proxy == null) {
            return;
        }
        try {
            proxy.stop();
        } catch (Exception e) {
            throw new IllegalStateException("cannot stop S3Proxy", e);
        } finally {
            proxy = null;
        }
    }

    /** Whether the server is accepting requests. */
    public synchronized boolean isRunning() {
        return proxy != null;
    }

    /** Stops the server and deletes its temporary store directory, if it made one. */
    @Override
    public synchronized void close() {
        stop();
        if (blobStore != null) {
            blobStore.close();
            blobStore = null;
        }
        if (ownsBasedir && basedir != null && Files.exists(basedir)) {
            try (Stream<Path> paths = Files.walk(basedir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The port (known after the first start). */
    public synchronized int port() {
        requireStartedOnce();
        return port;
    }

    /**
     * {@code http://localhost:<port>}: the endpoint for both addressing styles. (S3Proxy takes
     * any other host name, such as {@code 127.0.0.1}, for a bucket name.)
     */
    public URI endpoint() {
        return URI.create("http://" + VIRTUAL_HOST + ":" + port());
    }

    /** The access key id the server accepts. */
    public String accessKey() {
        return ACCESS_KEY;
    }

    /** The secret access key the server accepts. */
    public String secretKey() {
        return SECRET_KEY;
    }

    /** The store behind the server, to look at objects and uploads without going through S3. */
    public synchronized BlobStore blobStore() {
        requireStartedOnce();
        return blobStore;
    }

    /** The store directory of a filesystem server; empty for an in-memory one. */
    public java.util.Optional<Path> basedir() {
        return java.util.Optional.ofNullable(basedir);
    }

    /** Creates a bucket (directly in the store, so it works while the server is stopped). */
    public void createBucket(String bucket) {
        if (!blobStore().containerExists(bucket)) {
            blobStore().createContainer(bucket);
        }
    }

    /**
     * Stores an object directly in the store (no HTTP, no signing): fast set-up of many objects,
     * or of objects "made by another tool".
     */
    public void putObject(String bucket, String fullKey, byte[] content, Map<String, String> metadata) {
        blobStore().putBlob(PutObjectRequest.builder().bucket(bucket).key(fullKey).metadata(metadata)
                .contentLength((long) content.length).build(), new ByteArrayInputStream(content));
    }

    /** The full keys of all objects in a bucket (at most 1,000; for assertions). */
    public List<String> keys(String bucket) {
        return blobStore().list(bucket).contents().stream().map(o -> o.key()).sorted().toList();
    }

    /** The keys of multipart uploads in a bucket that were neither completed nor aborted. */
    public List<String> incompleteUploads(String bucket) {
        return blobStore().listMultipartUploads(bucket).stream().map(u -> u.key()).sorted().toList();
    }

    /**
     * Parameters for {@code bucket} on this server: path-style, its endpoint, region us-east-1,
     * the right keys. Add {@code path(..)} etc. and build.
     */
    public S3Parameters.Builder parameters(String bucket) {
        return S3Parameters.builder()
                .endpoint(endpoint().toString())
                .bucket(bucket)
                .uriStyle("path")
                .accessKey(ACCESS_KEY)
                .secretKey(Secret.of(SECRET_KEY));
    }

    /**
     * Parameters for {@code bucket} with virtual-hosted addressing ({@code <bucket>.localhost});
     * the client needs {@link #LOCALHOST_RESOLVER}.
     */
    public S3Parameters.Builder virtualHostParameters(String bucket) {
        return parameters(bucket).uriStyle("host");
    }

    private void requireStartedOnce() {
        if (blobStore == null) {
            throw new IllegalStateException("S3ProxyServer has not been started");
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        // On a static field the server already runs (beforeAll); on an instance field start it
        // here. A server a previous test stopped is restarted.
        if (blobStore == null) {
            startedForEach = true;
        }
        start();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (startedForEach) {
            startedForEach = false;
            close();
        }
    }

    @Override
    public String toString() {
        return "S3ProxyServer{" + provider + (basedir == null ? "" : " " + basedir) + ", port " + port + "}";
    }
}
