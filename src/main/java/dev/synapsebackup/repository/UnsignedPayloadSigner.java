package dev.synapsebackup.repository;

import java.util.concurrent.CompletableFuture;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.scheme.AwsV4AuthScheme;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.AsyncSignRequest;
import software.amazon.awssdk.http.auth.spi.signer.AsyncSignedRequest;
import software.amazon.awssdk.http.auth.spi.signer.SignRequest;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.identity.spi.IdentityProvider;
import software.amazon.awssdk.identity.spi.IdentityProviders;

/**
 * SigV4 with {@code UNSIGNED-PAYLOAD} over plain HTTP as well, as the SDK already does for S3 over
 * HTTPS.
 *
 * <p>Over {@code http://} endpoints (MinIO or Ceph RGW on a private network, S3Proxy in tests and
 * the benchmark) the SDK insists on signing the payload: it hashes every byte with SHA-256 and
 * sends uploads in {@code aws-chunked} encoding with a signature per chunk, which the server must
 * hash and check in turn. That costs both sides about a CPU-second per GB and buys us nothing:
 * what we upload is an OpenPGP message whose MDC, and a manifest whose per-file SHA-256, detect
 * any change to the bytes however it happens, and are checked by every verify and restore.
 * Headers, the path and the query are still signed, so requests cannot be altered or replayed
 * elsewhere.
 *
 * <p>The scheme is not part of the signature, so the request is signed as its {@code https}
 * twin, with payload signing off, and sent as it was. The Host header the HTTP client sends must
 * equal the one signed: port 80, implicit over http, becomes 443, implicit over https; an http
 * endpoint on port 443 (the one case this cannot express) keeps the SDK's payload signing.
 */
final class UnsignedPayloadSigner implements AwsV4HttpSigner {
    private final AwsV4HttpSigner delegate = AwsV4HttpSigner.create();

    /** The SDK's SigV4 auth scheme with this signer, for {@code S3ClientBuilder.putAuthScheme}. */
    static AwsV4AuthScheme authScheme() {
        UnsignedPayloadSigner signer = new UnsignedPayloadSigner();
        return new AwsV4AuthScheme() {
            @Override
            public String schemeId() {
                return AwsV4AuthScheme.SCHEME_ID;
            }

            @Override
            public IdentityProvider<AwsCredentialsIdentity> identityProvider(IdentityProviders providers) {
                return providers.identityProvider(AwsCredentialsIdentity.class);
            }

            @Override
            public AwsV4HttpSigner signer() {
                return signer;
            }
        };
    }

    @Override
    public SignedRequest sign(SignRequest<? extends AwsCredentialsIdentity> request) {
        return signAsHttps(request);
    }

    private <T extends AwsCredentialsIdentity> SignedRequest signAsHttps(SignRequest<T> request) {
        SdkHttpRequest http = request.request();
        if (!"http".equals(http.protocol()) || request.payload().isEmpty() || http.port() == 443) {
            return delegate.sign(request);
        }
        int port = http.port();
        SdkHttpRequest twin = http.toBuilder().protocol("https").port(port == 80 ? 443 : port).build();
        SignedRequest signed = delegate.sign(request.copy(b -> b.request(twin)
                .putProperty(AwsV4HttpSigner.PAYLOAD_SIGNING_ENABLED, false)));
        SdkHttpRequest back = signed.request().toBuilder().protocol("http").port(port).build();
        return signed.copy(b -> b.request(back));
    }

    /** Not used: the repository's client is synchronous. */
    @Override
    public CompletableFuture<AsyncSignedRequest> signAsync(AsyncSignRequest<? extends AwsCredentialsIdentity> request) {
        return delegate.signAsync(request);
    }
}
