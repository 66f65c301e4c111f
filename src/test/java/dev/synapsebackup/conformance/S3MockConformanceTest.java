package dev.synapsebackup.conformance;

import dev.synapsebackup.testing.S3MockStore;

/** The repository conformance suite against Adobe S3Mock 4.11.0, a separate JVM on loopback. */
class S3MockConformanceTest extends RepositoryConformanceTest {
    S3MockConformanceTest() {
        super(new S3MockStore());
    }
}
