package dev.synapsebackup.monitoring;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Pings a monitoring URL the Healthchecks way ({@code URL/start} when a run starts, {@code URL}
 * when it succeeded, {@code URL/fail} when it failed), which Uptime Kuma's push monitors and
 * similar services accept too. A ping is a GET with a short timeout; a failed ping is reported
 * by the caller and changes nothing else.
 */
public final class Ping {
    /** How long a ping may take: a monitoring service that hangs must not hold up a backup. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    private Ping() {
    }

    private static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t.getMessage();
            }
        }
        return e.getClass().getSimpleName();
    }

    /** {@code base} with {@code suffix} ("/start", "/fail" or "") added to its path, keeping its query. */
    public static URI url(URI base, String suffix) {
        String path = base.getRawPath() == null ? "" : base.getRawPath();
        if (!suffix.isEmpty() && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        StringBuilder sb = new StringBuilder().append(base.getScheme()).append("://").append(base.getRawAuthority())
                .append(path).append(suffix);
        if (base.getRawQuery() != null) {
            sb.append('?').append(base.getRawQuery());
        }
        return URI.create(sb.toString());
    }

    /**
     * Sends one ping.
     *
     * @return null when it was answered with a 2xx status, else what went wrong (naming the host
     *         only: the URL's path is the check's secret)
     */
    public static String send(URI base, String suffix) {
        URI uri = url(base, suffix);
        String where = "ping" + (suffix.isEmpty() ? "" : " " + suffix.substring(1)) + " to " + base.getHost();
        boolean interrupted = Thread.interrupted();
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(TIMEOUT)
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
            HttpRequest request = HttpRequest.newBuilder(uri).timeout(TIMEOUT).GET()
                    .header("User-Agent", "synapse-backup").build();
            HttpResponse<Void> response = client.send(request, HttpResponse.BodyHandlers.discarding());
            if (response.statusCode() / 100 != 2) {
                return where + " failed: HTTP " + response.statusCode();
            }
            return null;
        } catch (IOException e) {
            return where + " failed: " + describe(e);
        } catch (InterruptedException e) {
            interrupted = true;
            return where + " was interrupted";
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
