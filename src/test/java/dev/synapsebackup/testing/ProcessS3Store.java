package dev.synapsebackup.testing;

import java.net.URI;

/** An S3 server run as a separate process on a free loopback port (S3Mock, s3rver). */
abstract class ProcessS3Store extends S3Store {
    /** The running server, once {@link #startServer} has started it. */
    protected ProcessStore process;
    /** Its plain-http port. */
    protected int port;

    @Override
    protected final void stopServer() {
        if (process != null) {
            process.close();
        }
    }

    /** The plain-http port the server listens on (loopback). */
    public int httpPort() {
        return port;
    }

    @Override
    protected final URI endpoint() {
        return URI.create("http://localhost:" + port);
    }
}
