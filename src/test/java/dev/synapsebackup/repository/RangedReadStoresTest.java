package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.testing.S3MockStore;
import dev.synapsebackup.testing.S3rverStore;
import dev.synapsebackup.testing.TestStore;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Parallel ranged reads ({@link ParallelRangeDownload}) against the other S3 servers of the
 * conformance suite, whose restores read objects too small for ranges: each must answer ranged,
 * conditional GETs with exactly the bytes asked for.
 */
@Tag("slow")
class RangedReadStoresTest {
    private static final int PART = 256 * 1024;

    static Stream<Arguments> stores() {
        return Stream.of(Arguments.of("S3Mock", (Supplier<TestStore>) S3MockStore::new),
                Arguments.of("s3rver", (Supplier<TestStore>) S3rverStore::new));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("stores")
    void aMultiRangeObjectReadsIdentically(String name, Supplier<TestStore> factory) throws Exception {
        try (TestStore store = factory.get()) {
            store.start();
            TestStore.Space space = store.newSpace("ranges");
            byte[] content = new byte[5 * PART + 12_345];
            new Random(5).nextBytes(content);
            List<String> args = space.repoArgs("p");
            S3Parameters p = S3Parameters.builder().bucket(args.get(args.indexOf("--bucket") + 1))
                    .path("p").endpoint(args.get(args.indexOf("--endpoint") + 1)).uriStyle("path")
                    .region("us-east-1").accessKey(space.env().get("AWS_ACCESS_KEY_ID"))
                    .secretKey(Secret.of(space.secretKey())).build();
            try (S3Repository repo = S3Repository.builder(p).downloadPartSize(PART).downloadStreamFirst(false).downloadParallelism(4).build()) {
                // Written by the repository: the suite's admin client sends aws-chunked bodies,
                // which s3rver stores verbatim.
                repo.put("obj", content, Map.of());
                try (InputStream in = repo.open("obj")) {
                    assertThat(in).isInstanceOf(ParallelRangeDownload.class);
                    assertThat(in.readAllBytes()).as(name).isEqualTo(content);
                }
            }
        }
    }
}
