package dev.synapsebackup.conformance;

import dev.synapsebackup.testing.LocalStore;

/** The repository conformance suite against a local directory repository. */
class LocalConformanceTest extends RepositoryConformanceTest {
    LocalConformanceTest() {
        super(new LocalStore());
    }
}
