package dev.synapsebackup.conformance;

import dev.synapsebackup.testing.S3ProxyStore;

/** The repository conformance suite against S3Proxy, in-process. */
class S3ProxyConformanceTest extends RepositoryConformanceTest {
    S3ProxyConformanceTest() {
        super(new S3ProxyStore());
    }
}
