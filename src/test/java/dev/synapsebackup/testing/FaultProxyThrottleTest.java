package dev.synapsebackup.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.S3Repository;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The throttle bench/run.sh's simulated network uses passes every byte both ways, intact. */
class FaultProxyThrottleTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    @Test
    void aThrottledProxyRelaysUploadsAndDownloadsIntact() throws IOException {
        S3.createBucket("throttled");
        byte[] data = new byte[11 << 20]; // more than one part: a multipart upload
        new SplittableRandom(7).nextBytes(data);
        try (FaultProxy proxy = new FaultProxy(S3.port()).throttle(200_000_000, Duration.ofMillis(1));
                S3Repository repo = S3Repository.builder(S3.parameters("throttled")
                        .endpoint(proxy.endpoint().toString()).build()).partSize(5 << 20).build()) {
            try (ObjectWriter w = repo.create("blob", data.length, Map.of())) {
                w.write(data);
                w.commit();
            }
            try (InputStream in = repo.open("blob")) {
                assertThat(in.readAllBytes()).isEqualTo(data);
            }
            assertThat(proxy.requests()).anyMatch(FaultProxy.Request::isUploadPart).anyMatch(r -> r.isGet("blob"));
        }
    }

    @Test
    void aNegativeThrottleIsRefused() throws IOException {
        try (FaultProxy proxy = new FaultProxy(S3.port())) {
            assertThatThrownBy(() -> proxy.throttle(-1, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
