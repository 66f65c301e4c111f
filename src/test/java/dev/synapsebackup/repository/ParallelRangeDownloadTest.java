package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.FaultProxy.ResetAfter;
import dev.synapsebackup.testing.FaultProxy.SlowAfter;
import dev.synapsebackup.testing.FaultProxy.Status;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Reads of large objects with parallel ranged GETs ({@link ParallelRangeDownload}), against
 * S3Proxy behind the fault proxy, with small parts so that a few MiB make many ranges.
 */
class ParallelRangeDownloadTest {
    private static final int PART = 256 * 1024;
    private static final int PARALLELISM = 4;
    private static final int MAX_ATTEMPTS = 3;

    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    private static FaultProxy proxy;
    private static int buckets;
    private String bucket;
    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void startProxy() throws IOException {
        proxy = new FaultProxy(S3.port());
    }

    @AfterAll
    static void stopProxy() throws IOException {
        proxy.close();
    }

    @BeforeEach
    void freshBucket() {
        bucket = "ranges-" + (++buckets);
        S3.createBucket(bucket);
        proxy.reset();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
        proxy.reset();
    }

    private S3Repository repo(int parallelism) {
        S3Repository r = S3Repository.builder(S3.parameters(bucket).endpoint(proxy.endpoint().toString()).build())
                .downloadParallelism(parallelism).downloadPartSize(PART).downloadStreamFirst(false).maxAttempts(MAX_ATTEMPTS)
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(20)).build();
        opened.add(r);
        return r;
    }

    /** A repository whose reads start with the first GET alone and hand over to ranges as {@code waitingShare} says. */
    private S3Repository streamingRepo(double waitingShare) {
        S3Repository r = S3Repository.builder(S3.parameters(bucket).endpoint(proxy.endpoint().toString()).build())
                .downloadParallelism(PARALLELISM).downloadPartSize(PART).downloadWaitingShare(waitingShare)
                .maxAttempts(MAX_ATTEMPTS).retryBackoff(Duration.ofMillis(1), Duration.ofMillis(20)).build();
        opened.add(r);
        return r;
    }

    private byte[] store(String key, int size) {
        byte[] content = new byte[size];
        new Random(size).nextBytes(content);
        S3.putObject(bucket, key, content, Map.of());
        return content;
    }

    private static List<FaultProxy.Request> gets(String key) {
        return proxy.requests().stream().filter(r -> r.isGet("/" + key)).toList();
    }

    /** Reads in reads of varying sizes, single bytes included, as a tar reader would. */
    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[70_001];
        int[] sizes = {1, 512, 70_001, 4096, 33};
        for (int i = 0; ; i++) {
            int size = sizes[i % sizes.length];
            if (size == 1) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                out.write(b);
            } else {
                int n = in.read(buf, 0, size);
                if (n < 0) {
                    break;
                }
                out.write(buf, 0, n);
            }
        }
        return out.toByteArray();
    }

    private static Set<Thread> downloadThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("s3-download-") && t.isAlive()).collect(Collectors.toSet());
    }

    /** Waits until every download thread that was not in {@code before} has ended. */
    private static void awaitNoNewDownloadThreads(Set<Thread> before) throws Exception {
        Await.until("the download threads to end", Duration.ofSeconds(30), () -> {
            Set<Thread> now = downloadThreads();
            now.removeAll(before);
            return now.isEmpty();
        });
    }

    @ParameterizedTest
    @CsvSource({"0", "1", "262143", "262144", "262145", "786432", "1310727"})
    void everySizeAroundPartBoundariesReadsIdentically(int size) throws Exception {
        S3Repository repo = repo(PARALLELISM);
        byte[] content = store("obj", size);
        byte[] read;
        try (InputStream in = repo.open("obj")) {
            read = readAll(in);
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(read).isEqualTo(content);
        List<FaultProxy.Request> gets = gets("obj");
        int parts = Math.max(1, (size + PART - 1) / PART);
        // One GET of the whole object, then one ranged GET for each further part, in order.
        assertThat(gets).hasSize(parts);
        assertThat(gets.get(0).range()).isNull();
        List<String> ranges = gets.stream().skip(1).map(FaultProxy.Request::range).toList();
        List<String> expected = new ArrayList<>();
        for (int p = 1; p < parts; p++) {
            // The last range runs to the end of the object, as a resume of a whole GET would.
            expected.add("bytes=" + ((long) p * PART) + "-" + (p == parts - 1 ? "" : Long.toString((long) (p + 1) * PART - 1)));
        }
        assertThat(ranges).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void aLargeObjectIsFetchedWithSeveralGetsAtOnceAndBoundedBuffers() throws Exception {
        S3Repository repo = repo(PARALLELISM);
        byte[] content = store("big", 16 * PART);
        // Slow ranges, so that GETs started together are still running together.
        proxy.inject(r -> r.isGet("/big") && r.range() != null, Integer.MAX_VALUE, new SlowAfter(0, 4 * 1024 * 1024));
        byte[] read;
        try (InputStream in = repo.open("big")) {
            assertThat(in).isInstanceOf(ParallelRangeDownload.class);
            read = readAll(in);
            assertThat(((ParallelRangeDownload) in).allocatedBuffers()).isBetween(2, PARALLELISM + 1);
        }
        assertThat(read).isEqualTo(content);
        List<FaultProxy.Request> ranged = gets("big").stream().filter(r -> r.range() != null).toList();
        assertThat(ranged).hasSize(15);
        assertThat(ranged.stream().mapToInt(FaultProxy.Request::inFlight).max().orElse(0))
                .as("ranged GETs in flight at once, beyond the first GET and one range").isGreaterThan(2);
    }

    @Test
    void aReaderThatNeverWaitsReadsTheFirstGetToTheEnd() throws Exception {
        // A share above 1 is never reached: the reader keeps to the first GET, as it does when
        // the store is faster than the reader.
        S3Repository repo = streamingRepo(2);
        byte[] content = store("fast", 9 * PART + 5);
        try (InputStream in = repo.open("fast")) {
            assertThat(readAll(in)).isEqualTo(content);
            assertThat(((ParallelRangeDownload) in).allocatedBuffers()).isZero();
        }
        assertThat(gets("fast")).hasSize(1);
        assertThat(gets("fast").get(0).range()).isNull();
    }

    @Test
    void rangesTakeOverFromTheFirstGetOnceTheReaderWaitsForIt() throws Exception {
        // Share 0: the reader "waited" for the first range, so the first GET serves one range more
        // and ranged GETs fetch the rest, in order, identically.
        S3Repository repo = streamingRepo(0);
        byte[] content = store("slow", 9 * PART + 5);
        proxy.inject(r -> r.isGet("/slow") && r.range() != null, Integer.MAX_VALUE, new SlowAfter(0, 4 * 1024 * 1024));
        try (InputStream in = repo.open("slow")) {
            assertThat(readAll(in)).isEqualTo(content);
            assertThat(((ParallelRangeDownload) in).allocatedBuffers()).isBetween(1, PARALLELISM + 1);
        }
        List<FaultProxy.Request> gets = gets("slow");
        assertThat(gets.get(0).range()).isNull();
        List<String> ranges = gets.stream().skip(1).map(FaultProxy.Request::range).toList();
        List<String> expected = new ArrayList<>();
        for (int p = 2; p < 10; p++) {
            expected.add("bytes=" + ((long) p * PART) + "-" + (p == 9 ? "" : Long.toString((long) (p + 1) * PART - 1)));
        }
        assertThat(ranges).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void aRangeFailingAfterTheHandOverFailsTheReadWithItsCause() throws Exception {
        S3Repository repo = streamingRepo(0);
        store("handover", 12 * PART);
        Predicate<FaultProxy.Request> fifth = r -> r.isGet("/handover") && r.range() != null
                && r.range().startsWith("bytes=" + (4 * PART) + "-");
        proxy.inject(fifth, Integer.MAX_VALUE, new Status(403, "AccessDenied"));
        Set<Thread> before = downloadThreads();
        InputStream in = repo.open("handover");
        assertThatThrownBy(() -> readAll(in)).isInstanceOf(IOException.class)
                .hasMessageContaining("handover").hasMessageContaining("HTTP 403 AccessDenied");
        in.close();
        awaitNoNewDownloadThreads(before);
    }

    @Test
    void aSingleGetWhenParallelismIsOne() throws Exception {
        S3Repository repo = repo(1);
        byte[] content = store("one", 5 * PART + 3);
        try (InputStream in = repo.open("one")) {
            assertThat(in).isNotInstanceOf(ParallelRangeDownload.class);
            assertThat(readAll(in)).isEqualTo(content);
        }
        assertThat(gets("one")).hasSize(1);
    }

    @Test
    void rangesCutMidStreamAreResumedAndTheBytesStayIdentical() throws Exception {
        S3Repository repo = repo(PARALLELISM);
        byte[] content = store("cut", 8 * PART + 100);
        // The whole GET is cut in its first part; the third part, and then its resume, too.
        String thirdEnd = "-" + (3 * PART - 1);
        proxy.inject(r -> r.isGet("/cut") && r.range() == null, 1, new ResetAfter(100_000))
                .inject(r -> r.isGet("/cut") && r.range() != null && r.range().endsWith(thirdEnd), 2,
                        new ResetAfter(50_000));
        try (InputStream in = repo.open("cut")) {
            assertThat(readAll(in)).isEqualTo(content);
        }
        assertThat(proxy.injected()).isEqualTo(3);
        // Resumes ask for the rest of their range only, from a byte inside it.
        List<String> ranges = gets("cut").stream().map(FaultProxy.Request::range).toList();
        assertThat(ranges).anyMatch(r -> r != null && r.endsWith("-" + (PART - 1)) && !r.startsWith("bytes=0-"));
        assertThat(ranges.stream().filter(r -> r != null && r.endsWith(thirdEnd))).hasSize(3);
    }

    @ParameterizedTest
    @CsvSource({"403, AccessDenied", "500, InternalError"})
    void aFailingRangeFailsTheReadWithItsCauseAndLeavesNoThread(int status, String code) throws Exception {
        S3Repository repo = repo(PARALLELISM);
        store("fails", 12 * PART);
        Predicate<FaultProxy.Request> fifth = r -> r.isGet("/fails") && r.range() != null
                && r.range().startsWith("bytes=" + (4 * PART) + "-");
        proxy.inject(fifth, Integer.MAX_VALUE, new Status(status, code));
        Set<Thread> before = downloadThreads();
        InputStream in = repo.open("fails");
        assertThatThrownBy(() -> readAll(in)).isInstanceOf(IOException.class)
                .hasMessageContaining("fails").hasMessageContaining("HTTP " + status + " " + code);
        in.close();
        awaitNoNewDownloadThreads(before);
        // The SDK retried a 500 and not a 403.
        assertThat(gets("fails").stream().filter(fifth)).hasSize(status == 500 ? MAX_ATTEMPTS : 1);
        assertThatThrownBy(in::read).isInstanceOf(IOException.class);
    }

    @Test
    void closeBeforeTheEndAbortsTheGetsInFlight() throws Exception {
        S3Repository repo = repo(PARALLELISM);
        byte[] content = store("early", 12 * PART);
        // Ranges that would take minutes to drain: only aborting them ends their threads.
        proxy.inject(r -> r.isGet("/early") && r.range() != null, Integer.MAX_VALUE, new SlowAfter(1000, 1000));
        Set<Thread> before = downloadThreads();
        InputStream in = repo.open("early");
        byte[] start = in.readNBytes(1000);
        assertThat(start).isEqualTo(java.util.Arrays.copyOf(content, 1000));
        Await.until("the ranged GETs to start", Duration.ofSeconds(30),
                () -> gets("early").stream().filter(r -> r.range() != null).count() == PARALLELISM);
        in.close();
        awaitNoNewDownloadThreads(before);
        assertThatThrownBy(in::read).isInstanceOf(IOException.class).hasMessageContaining("after close");
        // The repository still works: its connections were not left to drain the aborted GETs.
        proxy.reset();
        try (InputStream again = repo.open("early")) {
            assertThat(again.readAllBytes()).isEqualTo(content);
        }
    }

    @Test
    void anInterruptedReaderGetsAnInterruptedIoException() throws Exception {
        S3Repository repo = repo(PARALLELISM);
        store("stuck", 4 * PART);
        proxy.inject(r -> r.isGet("/stuck") && r.range() != null, Integer.MAX_VALUE, new SlowAfter(1000, 1000));
        Set<Thread> before = downloadThreads();
        try (InputStream in = repo.open("stuck")) {
            in.readNBytes(PART);
            Thread.currentThread().interrupt();
            assertThatThrownBy(in::read).isInstanceOf(java.io.InterruptedIOException.class);
            assertThat(Thread.interrupted()).isTrue();
        }
        awaitNoNewDownloadThreads(before);
    }
}
