package dev.synapsebackup.testing;

import java.net.URI;
import java.nio.file.Path;

/** S3Proxy in-process (in-memory store); it serves {@code <bucket>.localhost} as virtual hosts. */
public final class S3ProxyStore extends S3Store {
    private S3ProxyServer server;

    @Override
    public String name() {
        return "S3Proxy";
    }

    @Override
    protected void startServer(Path dir) {
        server = S3ProxyServer.inMemory();
        server.start();
    }

    @Override
    protected void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @Override
    protected URI endpoint() {
        return server.endpoint();
    }

    @Override
    protected URI virtualHostEndpoint() {
        return server.endpoint();
    }

    @Override
    protected String accessKey() {
        return S3ProxyServer.ACCESS_KEY;
    }

    @Override
    protected String secretKey() {
        return S3ProxyServer.SECRET_KEY;
    }

    @Override
    public VirtualHosts virtualHosts() {
        return VirtualHosts.SERVED;
    }
}
