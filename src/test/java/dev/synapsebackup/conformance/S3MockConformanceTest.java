package dev.synapsebackup.conformance;

import dev.synapsebackup.testing.S3MockStore;
import org.junit.jupiter.api.Tag;

/** The repository conformance suite against Adobe S3Mock 4.11.0, a separate JVM on loopback. */
@Tag("slow")
class S3MockConformanceTest extends RepositoryConformanceTest {
    S3MockConformanceTest() {
        super(new S3MockStore());
    }
}
