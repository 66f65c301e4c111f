package dev.synapsebackup.repository;

import dev.synapsebackup.RepositoryAccessException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.S3Parameters;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Optional;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.SdkException;

/**
 * Translates the SDK's failures into the project's exceptions, in words that name the bucket or
 * the object and never a secret: an {@link IOException} for a failed request, a
 * {@link RepositoryAccessException} (exit 3) for a store that cannot be used at all.
 */
final class S3Errors {
    private final S3Parameters parameters;

    S3Errors(S3Parameters parameters) {
        this.parameters = parameters;
    }

    private String fullKey(String key) {
        return S3Bucket.fullKey(parameters.prefix(), key);
    }

    /** A failed access check: interrupted, or the bucket cannot be used (and why). */
    SynapseBackupException accessFailure(SdkException e) {
        if (e instanceof AbortedException || Thread.currentThread().isInterrupted()) {
            return new SynapseBackupException(SynapseBackupException.INTERRUPTED,
                    "interrupted while checking bucket " + parameters.bucket());
        }
        return new RepositoryAccessException(bucketReason(e), e);
    }

    /** The reason a bucket request failed, for {@code ... cannot be accessed (<reason>)}. */
    private String bucketReason(SdkException e) {
        String bucket = parameters.bucket();
        if (e instanceof AwsServiceException se) {
            int status = se.statusCode();
            String code = errorCode(se);
            return switch (status) {
                case 404 -> "bucket \"" + bucket + "\" does not exist";
                case 403 -> "access to bucket \"" + bucket + "\" denied (403"
                        + (code == null || code.isBlank() || code.equals("403") ? "" : " " + code) + ")";
                case 301 -> "bucket \"" + bucket + "\" is in another region than " + parameters.effectiveRegion();
                default -> "bucket \"" + bucket + "\": HTTP " + status + (code == null ? "" : " " + code);
            };
        }
        return connectionReason(e);
    }

    /** A connection-level failure in words: refused, unknown host, timeout. */
    private String connectionReason(Throwable e) {
        String endpoint = endpointForMessages();
        String message = e.getMessage() == null ? "" : e.getMessage();
        if (message.startsWith("Unable to load credentials") || message.startsWith("Profile file contained no credentials")) {
            return "no usable AWS credentials: " + firstLine(message, "");
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof UnknownHostException) {
                return "unknown host " + c.getMessage() + " (endpoint " + endpoint + ")";
            }
            if (c instanceof ConnectException || c instanceof NoRouteToHostException) {
                return "cannot connect to " + endpoint + ": " + firstLine(c.getMessage(), "connection failed");
            }
            if (c instanceof SocketTimeoutException) {
                return "timed out talking to " + endpoint;
            }
        }
        return "cannot reach bucket \"" + parameters.bucket() + "\" at " + endpoint + ": "
                + firstLine(e.getMessage(), e.toString());
    }

    private static String firstLine(String s, String fallback) {
        if (s == null || s.isBlank()) {
            return fallback;
        }
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        // Apache reports "Connect to 127.0.0.1:1 [/127.0.0.1] failed: Connection refused"; keep the cause.
        int failed = line.lastIndexOf("failed: ");
        return failed >= 0 ? line.substring(failed + "failed: ".length()) : line;
    }

    /** The endpoint without any user-info part (which could hold a secret). */
    String endpointForMessages() {
        Optional<String> e = parameters.endpoint();
        if (e.isEmpty()) {
            return "s3." + parameters.effectiveRegion() + ".amazonaws.com";
        }
        URI uri = URI.create(e.get());
        return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
    }

    /** Maps an SDK failure on an object to an IOException naming the object. */
    IOException failure(String action, String key, SdkException e) {
        String what = action + " s3://" + parameters.bucket() + "/" + fullKey(key);
        if (e instanceof AbortedException || Thread.currentThread().isInterrupted()) {
            InterruptedIOException ie = new InterruptedIOException(what + ": interrupted");
            ie.initCause(e);
            return ie;
        }
        String reason;
        if (e instanceof AwsServiceException se) {
            String code = errorCode(se);
            reason = "HTTP " + se.statusCode() + (code == null ? "" : " " + code);
        } else {
            reason = connectionReason(e);
        }
        return new IOException("cannot " + what + ": " + reason, e);
    }

    /**
     * Like {@link #failure} but a store that cannot be used at all (access denied, no such
     * bucket, unreachable after the retries) is a {@link RepositoryAccessException} (exit 3).
     */
    IOException failureOrAccess(String action, String key, SdkException e) {
        IOException io = failure(action, key, e);
        if (io instanceof InterruptedIOException) {
            return io;
        }
        boolean access = e instanceof AwsServiceException se
                ? se.statusCode() == 403 || se.statusCode() == 301 || (se.statusCode() == 404 && isNoSuchBucket(e))
                : true;
        if (access) {
            throw new RepositoryAccessException(io.getMessage(), e);
        }
        return io;
    }

    /** A failed GET: no such object, an object that changed between ranged GETs, or {@link #failure}. */
    IOException readFailure(String key, String location, SdkException e) {
        if (isNotFound(e)) {
            FileNotFoundException fnf = new FileNotFoundException("object " + key + " does not exist in " + location);
            fnf.initCause(e);
            return fnf;
        }
        if (e instanceof AwsServiceException se && se.statusCode() == 412) {
            return new IOException("cannot read s3://" + parameters.bucket() + "/" + fullKey(key)
                    + ": the object changed while it was being read", e);
        }
        return failure("read", key, e);
    }

    private static String errorCode(AwsServiceException se) {
        return se.awsErrorDetails() == null ? null : se.awsErrorDetails().errorCode();
    }

    static boolean isNoSuchBucket(SdkException e) {
        return e instanceof AwsServiceException se && "NoSuchBucket".equals(errorCode(se));
    }

    static boolean isNotFound(SdkException e) {
        return e instanceof AwsServiceException se && se.statusCode() == 404;
    }

    /** 501 or {@code NotImplemented}: the store does not implement what the request asked for. */
    static boolean isNotImplemented(SdkException e) {
        return e instanceof AwsServiceException se && (se.statusCode() == 501 || "NotImplemented".equals(errorCode(se)));
    }

    /** PreconditionFailed or ConditionalRequestConflict: a conditional write found the key taken. */
    static boolean isConditionFailed(SdkException e) {
        return e instanceof AwsServiceException se && (se.statusCode() == 412 || se.statusCode() == 409);
    }
}
