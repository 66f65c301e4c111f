package dev.synapsebackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
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
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An S3 server for the conformance suite. Spaces are buckets, set up and inspected with a plain
 * SDK client (path-style) so that the tool's own code is not the judge of what it stored.
 */
public abstract class S3Store implements TestStore {
    private Path dir;
    private S3Client admin;

    /** Starts the server, keeping its files (if any) under {@code dir}. */
    protected abstract void startServer(Path dir);

    /** Stops the server. */
    protected abstract void stopServer();

    /** The endpoint for path-style requests. */
    protected abstract URI endpoint();

    /** The endpoint for virtual-hosted requests: {@code <bucket>.<its host>} names the bucket. */
    protected abstract URI virtualHostEndpoint();

    /** The access key id the server accepts. */
    protected abstract String accessKey();

    /** The secret key the server accepts. */
    protected abstract String secretKey();

    @Override
    public final void start() {
        try {
            dir = Files.createTempDirectory("conformance-" + getClass().getSimpleName() + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        startServer(dir);
        admin = S3Client.builder()
                .httpClientBuilder(Apache5HttpClient.builder().maxConnections(16).socketTimeout(Duration.ofSeconds(60)))
                .endpointOverride(endpoint())
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey(), secretKey())))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
    }

    @Override
    public final void close() {
        try {
            if (admin != null) {
                admin.close();
            }
            stopServer();
        } finally {
            ProcessStore.deleteTree(dir);
        }
    }

    /** The directory the server may keep files in. */
    protected Path dir() {
        return dir;
    }

    /** The plain SDK client (path-style) the store is set up and inspected with. */
    public S3Client admin() {
        return admin;
    }

    /** The endpoint for path-style requests, for a repository built in the test. */
    public URI pathStyleEndpoint() {
        return endpoint();
    }

    /** The access key id and the secret key the server accepts. */
    public String[] credentials() {
        return new String[] {accessKey(), secretKey()};
    }

    /** A new bucket created with S3 Object Lock enabled (which makes it versioned). */
    public Space newObjectLockSpace(String bucket) {
        admin.createBucket(b -> b.bucket(bucket).objectLockEnabledForBucket(true));
        return new S3Space(bucket);
    }

    @Override
    public Space newSpace(String bucket) {
        admin.createBucket(b -> b.bucket(bucket));
        return new S3Space(bucket);
    }

    @Override
    public String toString() {
        return name();
    }

    private final class S3Space implements Space {
        private final String bucket;

        S3Space(String bucket) {
            this.bucket = bucket;
        }

        @Override
        public List<String> repoArgs(String path) {
            return List.of("--bucket", bucket, "--path", path, "--endpoint", endpoint().toString(),
                    "--s3-uri-style", "path", "--region", "us-east-1");
        }

        @Override
        public List<String> virtualHostArgs(String path) {
            return List.of("--bucket", bucket, "--path", path, "--endpoint", virtualHostEndpoint().toString(),
                    "--s3-uri-style", "host", "--region", "us-east-1");
        }

        @Override
        public Path hostsFile() {
            String host = virtualHostEndpoint().getHost();
            Path f = dir.resolve("hosts-" + bucket);
            try {
                Files.writeString(f, "127.0.0.1 localhost " + host + " " + bucket + "." + host + "\n");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return f;
        }

        @Override
        public Map<String, String> env() {
            return Map.of("AWS_ACCESS_KEY_ID", accessKey(), "AWS_SECRET_ACCESS_KEY", secretKey());
        }

        @Override
        public String secretKey() {
            return S3Store.this.secretKey();
        }

        @Override
        public void put(String key, byte[] content) {
            admin.putObject(b -> b.bucket(bucket).key(key), RequestBody.fromBytes(content));
        }

        @Override
        public void putAll(Collection<String> keys, byte[] content) {
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (String k : keys) {
                    done.add(pool.submit(() -> put(k, content)));
                }
                for (Future<?> f : done) {
                    f.get();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("cannot put test objects into " + bucket, e.getCause());
            } finally {
                pool.shutdownNow();
            }
        }

        @Override
        public List<String> keys() {
            List<String> keys = new ArrayList<>();
            for (ListObjectsV2Response page : admin.listObjectsV2Paginator(b -> b.bucket(bucket))) {
                page.contents().stream().map(S3Object::key).forEach(keys::add);
            }
            return keys.stream().sorted().toList();
        }
    }
}
