package dev.synapsebackup.testing;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Adobe S3Mock 4.11.0 (its {@code -exec} jar) as a separate JVM on loopback. It checks no
 * signatures, and it serves no virtual-hosted addressing: a request to
 * {@code <bucket>.localhost} is answered as one to {@code localhost} (GET / lists all buckets).
 *
 * <p>S3Mock adds a plain-http Tomcat connector that {@code server.address} does not reach; the
 * initializer {@code src/test/stores/S3MockLoopback.java} (compiled by bin/install-test-stores)
 * binds it to 127.0.0.1. Both connectors get free ports.
 */
public final class S3MockStore extends ProcessS3Store {
    static final String VERSION = "4.11.0";

    @Override
    public String name() {
        return "S3Mock " + VERSION;
    }

    @Override
    protected void startServer(Path dir) {
        Path jar = ProcessStore.CACHE.resolve("s3mock/s3mock-" + VERSION + "-exec.jar");
        Path loopback = ProcessStore.CACHE.resolve("s3mock/loopback");
        ProcessStore.ensureInstalled(loopback.resolve("S3MockLoopback.class"));
        port = TestStore.freePort();
        int httpsPort = TestStore.freePort();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = ProcessStore.start("s3mock", List.of(java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dloader.path=" + loopback, "-Dloader.main=com.adobe.testing.s3mock.S3MockApplication",
                "-cp", jar.toString(), "org.springframework.boot.loader.launch.PropertiesLauncher",
                "--server.address=127.0.0.1", "--server.port=" + httpsPort,
                "--com.adobe.testing.s3mock.httpPort=" + port,
                "--com.adobe.testing.s3mock.store.root=" + dir.resolve("root"),
                "--com.adobe.testing.s3mock.store.retainFilesOnExit=false"),
                Map.of(), dir, URI.create("http://127.0.0.1:" + port + "/"));
    }

    @Override
    protected URI virtualHostEndpoint() {
        return endpoint();
    }

    @Override
    protected String accessKey() {
        return "s3mock-access-key";
    }

    @Override
    protected String secretKey() {
        return "s3mock-secret-key-0123456789";
    }

    @Override
    public VirtualHosts virtualHosts() {
        return VirtualHosts.NOT_SERVED;
    }
}
