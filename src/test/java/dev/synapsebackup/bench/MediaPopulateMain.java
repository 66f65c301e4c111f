package dev.synapsebackup.bench;

import dev.synapsebackup.testing.S3ProxyServer;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Fills a media bucket for bench/s3-media.sh with Synapse-like keys
 * ({@code PREFIXlocal_content/xx/yy/<id>}): {@code MediaPopulateMain ENDPOINT BUCKET PREFIX COUNT
 * BYTES}, each object {@code BYTES} random bytes, 16 PUTs at a time.
 */
public final class MediaPopulateMain {
    private MediaPopulateMain() {
    }

    public static void main(String[] args) throws Exception {
        URI endpoint = URI.create(args[0]);
        String bucket = args[1];
        String prefix = args[2];
        int count = Integer.parseInt(args[3]);
        int bytes = Integer.parseInt(args[4]);
        try (S3Client s3 = S3Client.builder().endpointOverride(endpoint).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY)))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(Apache5HttpClient.builder().maxConnections(32)).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int n = i;
                futures.add(pool.submit(() -> {
                    byte[] b = new byte[bytes];
                    new Random(n).nextBytes(b);
                    String key = String.format("%slocal_content/%02x/%02x/m%08d", prefix, n % 256, (n / 256) % 256, n);
                    s3.putObject(r -> r.bucket(bucket).key(key), RequestBody.fromBytes(b));
                    return null;
                }));
                if (futures.size() >= 1000) {
                    for (Future<?> f : futures) {
                        f.get();
                    }
                    futures.clear();
                }
            }
            for (Future<?> f : futures) {
                f.get();
            }
            pool.shutdown();
        }
        System.out.println("populated " + count + " objects of " + bytes + " bytes in s3://" + bucket + "/" + prefix);
    }
}
