package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/** What goes on the wire; S3RepositoryTest shows S3Proxy accepts it (it checks every signature). */
class UnsignedPayloadSignerTest {
    private static final AwsCredentialsIdentity ID = AwsCredentialsIdentity.create("AKIDEXAMPLE", "secret-example");

    private static SignedRequest sign(HttpSigner<AwsCredentialsIdentity> signer, String protocol, int port) {
        SdkHttpRequest req = SdkHttpRequest.builder().method(SdkHttpMethod.PUT).protocol(protocol).host("minio.internal")
                .port(port).encodedPath("/bucket/backup-20261126000000000001").build();
        return signer.sign(r -> r.identity(ID).request(req).payload(ContentStreamProvider.fromUtf8String("hello"))
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "s3")
                .putProperty(AwsV4HttpSigner.REGION_NAME, "us-east-1"));
    }

    @Test
    void overHttpThePayloadIsNotHashedAndTheRequestStaysHttp() throws Exception {
        for (int port : new int[] {9000, 80}) {
            SignedRequest ours = sign(new UnsignedPayloadSigner(), "http", port);
            assertThat(ours.request().protocol()).isEqualTo("http");
            assertThat(ours.request().port()).isEqualTo(port);
            assertThat(ours.request().firstMatchingHeader("x-amz-content-sha256")).contains("UNSIGNED-PAYLOAD");
            assertThat(ours.request().firstMatchingHeader("Authorization")).hasValueSatisfying(a -> assertThat(a)
                    .startsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/").contains("x-amz-content-sha256"));
            assertThat(ours.request().firstMatchingHeader("Content-Encoding")).isEmpty(); // no aws-chunked
        }
        // The SDK's own signer hashes every byte over http (and would stream it aws-chunked).
        SignedRequest sdk = sign(AwsV4HttpSigner.create(), "http", 9000);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest("hello".getBytes(StandardCharsets.UTF_8)));
        assertThat(sdk.request().firstMatchingHeader("x-amz-content-sha256")).contains(sha);
    }

    @Test
    void overHttpsItIsTheSdksSigner() {
        SignedRequest ours = sign(new UnsignedPayloadSigner(), "https", 443);
        SignedRequest sdk = sign(AwsV4HttpSigner.create(), "https", 443);
        assertThat(ours.request().firstMatchingHeader("x-amz-content-sha256"))
                .isEqualTo(sdk.request().firstMatchingHeader("x-amz-content-sha256"));
        assertThat(ours.request().protocol()).isEqualTo("https");
    }
}
