package dev.synapsebackup.conformance;

import dev.synapsebackup.testing.S3rverStore;
import org.junit.jupiter.api.Tag;

/** The repository conformance suite against s3rver 3.7.1 (npm), under Node on loopback. */
@Tag("slow")
class S3rverConformanceTest extends RepositoryConformanceTest {
    S3rverConformanceTest() {
        super(new S3rverStore());
    }
}
