package dev.synapsebackup.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A fault-injecting HTTP proxy on loopback between the tool and a real S3 server (S3Proxy). Each
 * request is forwarded on its own upstream connection (the proxy asks both sides for
 * {@code Connection: close}); rules chosen by the test can instead answer a status (500, 503
 * SlowDown), reset the connection after N response bytes, stall before forwarding, or — with
 * {@link #cut(boolean)} or {@link Cut} — refuse the server entirely. {@link #throttle} makes every
 * connection behave like a single stream across a WAN, for the benchmark.
 */
public final class FaultProxy implements AutoCloseable {
    /**
     * One request as the proxy saw it.
     *
     * @param range    its Range header, or null
     * @param inFlight how many connections the proxy was handling when it arrived, its own included
     * @param headers  its header lines, names in lower case (a repeated header: the first)
     */
    public record Request(String method, String target, String range, int inFlight, java.util.Map<String, String> headers) {
        public Request {
            headers = java.util.Map.copyOf(headers);
        }

        /** The value of header {@code name} (any case), or null. */
        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        /** An UploadPart of a multipart upload. */
        public boolean isUploadPart() {
            return method.equals("PUT") && target.contains("partNumber=");
        }

        /** A ListObjectsV2 request. */
        public boolean isList() {
            return method.equals("GET") && target.contains("list-type=2");
        }

        /** A GetObject of a key ending with {@code suffix}. */
        public boolean isGet(String suffix) {
            String path = target.contains("?") ? target.substring(0, target.indexOf('?')) : target;
            return method.equals("GET") && path.endsWith(suffix);
        }

        /** The partNumber query parameter, or 0. */
        public int partNumber() {
            int i = target.indexOf("partNumber=");
            if (i < 0) {
                return 0;
            }
            int end = i + "partNumber=".length();
            while (end < target.length() && Character.isDigit(target.charAt(end))) {
                end++;
            }
            return Integer.parseInt(target.substring(i + "partNumber=".length(), end));
        }
    }

    /** What to do to a matching request. */
    public sealed interface Fault {
    }

    /** Answer with an S3 error instead of forwarding. */
    public record Status(int code, String s3Code) implements Fault {
    }

    /** Forward, then reset both connections after {@code bytes} bytes of the response. */
    public record ResetAfter(long bytes) implements Fault {
    }

    /** Wait, then forward. */
    public record Stall(Duration delay) implements Fault {
    }

    /** Forward, but after {@code bytes} bytes of the response send the rest at {@code bytesPerSecond}. */
    public record SlowAfter(long bytes, long bytesPerSecond) implements Fault {
    }

    /**
     * Reset this request's connection and cut the server off from now on, as {@code cut(true)}:
     * the cut starts at a chosen request instead of at a moment the test would have to catch.
     */
    public record Cut() implements Fault {
    }

    private record Rule(Predicate<Request> match, AtomicInteger remaining, Fault fault) {
    }

    private final int upstreamPort;
    private final ServerSocket server;
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<Request> refused = new CopyOnWriteArrayList<>();
    private final AtomicInteger injected = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean cut;
    private volatile boolean closed;
    private volatile long bytesPerSecond;
    private volatile Duration perRequestDelay = Duration.ZERO;

    /** Starts a proxy in front of an S3 server listening on {@code upstreamPort} on loopback. */
    public FaultProxy(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::acceptLoop, "fault-proxy-accept");
        t.setDaemon(true);
        t.start();
    }

    /** {@code http://localhost:<port>}, for the tool's endpoint. */
    public URI endpoint() {
        return URI.create("http://localhost:" + server.getLocalPort());
    }

    /** Applies {@code fault} to the next {@code times} requests matching {@code match}. */
    public FaultProxy inject(Predicate<Request> match, int times, Fault fault) {
        rules.add(new Rule(match, new AtomicInteger(times), fault));
        return this;
    }

    /** With {@code true}, every new connection is reset at once, as if the server were gone. */
    public void cut(boolean on) {
        this.cut = on;
    }

    /**
     * From now on, waits {@code perRequest} before forwarding each request and paces each
     * connection's bytes, both ways, to {@code bytesPerSecond} (0: no limit). As every request has
     * its own connection here, that is a per-request limit: parallel requests add up.
     */
    public FaultProxy throttle(long bytesPerSecond, Duration perRequest) {
        if (bytesPerSecond < 0 || perRequest.isNegative()) {
            throw new IllegalArgumentException("throttle must not be negative");
        }
        this.bytesPerSecond = bytesPerSecond;
        this.perRequestDelay = perRequest;
        return this;
    }

    /** Removes all rules and the throttle, and forgets the requests seen. */
    public void reset() {
        bytesPerSecond = 0;
        perRequestDelay = Duration.ZERO;
        rules.clear();
        requests.clear();
        refused.clear();
        injected.set(0);
        cut = false;
    }

    /** Every request refused while the server was cut, in order (not in {@link #requests()}). */
    public List<Request> refused() {
        return new ArrayList<>(refused);
    }

    /** Every request seen so far, in order (except those {@link #refused()}). */
    public List<Request> requests() {
        return new ArrayList<>(requests);
    }

    /** How many faults were injected so far. */
    public int injected() {
        return injected.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                // Counted from the accept, so that each request sees those that came before it.
                inFlight.incrementAndGet();
                Thread t = new Thread(() -> {
                    try {
                        handle(client);
                    } finally {
                        inFlight.decrementAndGet();
                    }
                }, "fault-proxy-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private void handle(Socket client) {
        try (client) {
            InputStream in = new BufferedInputStream(client.getInputStream());
            String head = readHead(in);
            if (head == null) {
                return;
            }
            String[] lines = head.split("\r\n");
            String[] requestLine = lines[0].split(" ");
            Request request = new Request(requestLine[0], requestLine.length > 1 ? requestLine[1] : "",
                    header(lines, "range"), inFlight.get(), headers(lines));
            if (cut) {
                // Read first, so that the test can tell which requests kept trying.
                refused.add(request);
                reset(client);
                return;
            }
            requests.add(request);
            Fault fault = null;
            for (Rule r : rules) {
                if (r.match.test(request) && r.remaining.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0) {
                    fault = r.fault;
                    injected.incrementAndGet();
                    break;
                }
            }
            if (fault instanceof Cut) {
                cut = true;
                reset(client);
                return;
            }
            if (fault instanceof Status s) {
                byte[] body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + s.s3Code()
                        + "</Code><Message>injected by FaultProxy</Message><RequestId>fault</RequestId></Error>")
                        .getBytes(StandardCharsets.UTF_8);
                OutputStream out = client.getOutputStream();
                out.write(("HTTP/1.1 " + s.code() + " Injected\r\nContent-Type: application/xml\r\nContent-Length: "
                        + (request.method().equals("HEAD") ? 0 : body.length) + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                if (!request.method().equals("HEAD")) {
                    out.write(body);
                }
                out.flush();
                client.shutdownOutput();
                return;
            }
            if (fault instanceof Stall st) {
                Thread.sleep(st.delay().toMillis());
            }
            if (!perRequestDelay.isZero()) {
                Thread.sleep(perRequestDelay.toMillis());
            }
            long limit = fault instanceof ResetAfter ra ? ra.bytes() : Long.MAX_VALUE;
            forward(client, in, lines, limit, fault instanceof SlowAfter sa ? sa : null);
        } catch (IOException | InterruptedException e) {
            // the client or the server went away: nothing to report
        }
    }

    private void forward(Socket client, InputStream clientIn, String[] lines, long limit, SlowAfter slow)
            throws IOException, InterruptedException {
        try (Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort)) {
            StringBuilder head = new StringBuilder(lines[0]).append("\r\n");
            for (int i = 1; i < lines.length; i++) {
                String lower = lines[i].toLowerCase(Locale.ROOT);
                if (!lower.startsWith("connection:") && !lower.startsWith("keep-alive:")) {
                    head.append(lines[i]).append("\r\n");
                }
            }
            head.append("Connection: close\r\n\r\n");
            OutputStream up = upstream.getOutputStream();
            up.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            up.flush();
            long rate = bytesPerSecond;
            Thread pump = new Thread(() -> {
                try {
                    Pacer pacer = new Pacer(rate);
                    byte[] body = new byte[16384];
                    int r;
                    while ((r = clientIn.read(body)) > 0) {
                        up.write(body, 0, r);
                        pacer.sent(r, up);
                    }
                    upstream.shutdownOutput();
                } catch (IOException | InterruptedException e) {
                    // connection ended
                }
            }, "fault-proxy-body");
            pump.setDaemon(true);
            pump.start();
            InputStream upIn = upstream.getInputStream();
            OutputStream out = client.getOutputStream();
            byte[] buf = new byte[16384];
            Pacer pacer = new Pacer(rate);
            long sent = 0;
            int n;
            while ((n = upIn.read(buf)) > 0) {
                int allowed = (int) Math.min(n, limit - sent);
                out.write(buf, 0, allowed);
                sent += allowed;
                pacer.sent(allowed, out);
                if (slow != null && sent > slow.bytes()) {
                    out.flush();
                    Thread.sleep(Math.max(1, allowed * 1000L / slow.bytesPerSecond()));
                }
                if (sent >= limit) {
                    out.flush();
                    reset(client);
                    reset(upstream);
                    return;
                }
            }
            out.flush();
        }
    }

    /** Holds a stream to a byte rate: sleeps whenever it is ahead of schedule by a millisecond or more. */
    private static final class Pacer {
        private final long bytesPerSecond;
        private final long start = System.nanoTime();
        private long total;

        Pacer(long bytesPerSecond) {
            this.bytesPerSecond = bytesPerSecond;
        }

        void sent(int bytes, OutputStream out) throws IOException, InterruptedException {
            if (bytesPerSecond <= 0) {
                return;
            }
            total += bytes;
            long due = start + (long) (total * 1e9 / bytesPerSecond);
            long ahead = due - System.nanoTime();
            if (ahead >= 1_000_000) {
                out.flush();
                Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
            }
        }
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0); // close sends RST
            s.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    /** Every header of a request head, names in lower case; the first of repeated ones. */
    private static java.util.Map<String, String> headers(String[] lines) {
        java.util.Map<String, String> result = new java.util.HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                result.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
            }
        }
        return result;
    }

    /** The value of the header {@code lowerCaseName} in a request head, or null. */
    private static String header(String[] lines, String lowerCaseName) {
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0 && lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT).equals(lowerCaseName)) {
                return lines[i].substring(colon + 1).trim();
            }
        }
        return null;
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3))
                    ? matched + 1 : (b == '\r' ? 1 : 0);
            if (matched == 4) {
                String s = head.toString(StandardCharsets.ISO_8859_1);
                return s.substring(0, s.length() - 4);
            }
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
    }
}
