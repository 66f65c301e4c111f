package dev.synapsebackup.testing;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * s3rver 3.7.1 (npm) under Node on loopback, storing in a directory. Known limits: it has no
 * ListMultipartUploads (501), ignores {@code If-None-Match}, stores {@code aws-chunked} framing
 * verbatim, and on Node 17+ needs {@code --openssl-legacy-provider} to list past 1,000 keys (its
 * continuation tokens use a legacy cipher). It serves {@code <bucket>.s3.localhost} as virtual
 * hosts with {@code --service-endpoint localhost}; plain {@code localhost} is path-style.
 */
public final class S3rverStore extends ProcessS3Store {
    static final String VERSION = "3.7.1";

    @Override
    public String name() {
        return "s3rver " + VERSION;
    }

    @Override
    protected void startServer(Path dir) {
        Path script = ProcessStore.CACHE.resolve("s3rver/node_modules/s3rver/bin/s3rver.js");
        ProcessStore.ensureInstalled(script);
        port = TestStore.freePort();
        process = ProcessStore.start("s3rver", List.of("node", script.toString(), "--directory", dir.resolve("data").toString(),
                "--address", "127.0.0.1", "--port", String.valueOf(port), "--service-endpoint", "localhost"),
                Map.of("NODE_OPTIONS", "--openssl-legacy-provider"), dir, URI.create("http://127.0.0.1:" + port + "/"));
    }

    @Override
    protected URI virtualHostEndpoint() {
        return URI.create("http://s3.localhost:" + port);
    }

    @Override
    protected String accessKey() {
        return "S3RVER";
    }

    @Override
    protected String secretKey() {
        return "S3RVER";
    }

    @Override
    public java.util.Set<Limit> limits() {
        return java.util.EnumSet.of(Limit.NO_MULTIPART_LISTING, Limit.IGNORES_IF_NONE_MATCH);
    }

    @Override
    public VirtualHosts virtualHosts() {
        return VirtualHosts.SERVED;
    }
}
