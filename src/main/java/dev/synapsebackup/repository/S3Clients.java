package dev.synapsebackup.repository;

import dev.synapsebackup.config.S3Parameters;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.TrustManager;
import javax.xml.stream.XMLEventReader;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamException;
import org.apache.hc.client5.http.DnsResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadResponse;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectResponse;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadBucketRequest;
import software.amazon.awssdk.services.s3.model.HeadBucketResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsRequest;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * Builds the S3 client of a repository (AWS SDK v2 with the Apache HTTP client) with the settings
 * S3-compatible stores need, and warms the SDK's classes up for the startup cache.
 */
final class S3Clients {
    private static final Logger LOG = LoggerFactory.getLogger(S3Repository.class);

    private S3Clients() {
    }

    /**
     * A client for {@code p}.
     *
     * @param dnsResolver resolves host names, or null for the system's
     * @param parallelism part uploads of one object in flight
     * @param maxAttempts attempts per request
     * @param backoff     the pause between attempts, for errors and throttling alike
     */
    static S3Client build(S3Parameters p, DnsResolver dnsResolver, int parallelism, int maxAttempts,
            BackoffStrategy backoff) {
        Apache5HttpClient.Builder http = Apache5HttpClient.builder()
                // Every part upload in flight holds a connection; leave room for other requests.
                .maxConnections(Math.max(8, parallelism * 2 + 2))
                .connectionTimeout(Duration.ofSeconds(10))
                .socketTimeout(Duration.ofSeconds(60));
        if (dnsResolver != null) {
            http.dnsResolver(dnsResolver);
        }
        if (p.endpoint().filter(e -> e.regionMatches(true, 0, "http://", 0, 7)).isPresent()) {
            // Every request goes to this plain-http endpoint: no TLS connection is ever made, so
            // the client need not load and parse the JDK's trust store at start-up. Should one
            // be attempted anyway, no certificate is trusted.
            http.tlsTrustManagersProvider(() -> new TrustManager[0]);
        }
        var client = S3Client.builder()
                .httpClientBuilder(http)
                .region(Region.of(p.effectiveRegion()))
                .credentialsProvider(credentials(p))
                .forcePathStyle(p.addressingStyle() == S3Parameters.AddressingStyle.PATH)
                // Parts are whole byte arrays in memory: sign each with one SHA-256 of its payload
                // (over http; https sends UNSIGNED-PAYLOAD) instead of aws-chunked 128 KiB signed
                // chunks, which some stores do not understand and which cost a signature per chunk.
                .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build())
                // SDK >= 2.30 sends CRC32 checksums by default, which many S3-compatible stores reject.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                // Exponential backoff with full jitter, for server errors and throttling (SlowDown) alike.
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                        .maxAttempts(maxAttempts)
                        .backoffStrategy(backoff)
                        .throttlingBackoffStrategy(backoff)
                        .build()));
        p.endpoint().ifPresent(e -> client.endpointOverride(URI.create(e)));
        return client.build();
    }

    private static AwsCredentialsProvider credentials(S3Parameters p) {
        if (p.accessKey().isPresent() && p.secretKey().isPresent()) {
            String access = p.accessKey().get();
            String secret = p.secretKey().get().revealString();
            return StaticCredentialsProvider.create(p.sessionToken().isPresent()
                    ? AwsSessionCredentials.create(access, secret, p.sessionToken().get().revealString())
                    : AwsBasicCredentials.create(access, secret));
        }
        DefaultCredentialsProvider.Builder chain = DefaultCredentialsProvider.builder();
        p.profile().ifPresent(chain::profileName);
        return chain.build();
    }

    /** See {@link S3Repository#initialiseSdkClasses()}. */
    static void initialiseSdkClasses() {
        List<Object> builders = List.of(
                PutObjectRequest.builder(), PutObjectResponse.builder(),
                GetObjectRequest.builder(), GetObjectResponse.builder(),
                HeadObjectRequest.builder(), HeadObjectResponse.builder(),
                HeadBucketRequest.builder(), HeadBucketResponse.builder(),
                DeleteObjectRequest.builder(), DeleteObjectResponse.builder(),
                ListObjectsV2Request.builder(), ListObjectsV2Response.builder(), S3Object.builder(),
                ListMultipartUploadsRequest.builder(), ListMultipartUploadsResponse.builder(),
                MultipartUpload.builder(),
                CreateMultipartUploadRequest.builder(), CreateMultipartUploadResponse.builder(),
                UploadPartRequest.builder(), UploadPartResponse.builder(),
                CompleteMultipartUploadRequest.builder(), CompleteMultipartUploadResponse.builder(),
                CompletedMultipartUpload.builder(), CompletedPart.builder(),
                AbortMultipartUploadRequest.builder(), AbortMultipartUploadResponse.builder());
        LOG.debug("initialised {} S3 model classes", builders.size());
        // The JDK's StAX reader, which the SDK's XML response parsing uses.
        try {
            XMLEventReader r = XMLInputFactory.newInstance().createXMLEventReader(new ByteArrayInputStream(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name></ListBucketResult>"
                            .getBytes(StandardCharsets.UTF_8)));
            while (r.hasNext()) {
                r.nextEvent();
            }
            r.close();
        } catch (XMLStreamException e) {
            throw new IllegalStateException("the JDK's XML reader failed on a constant document", e);
        }
    }
}
