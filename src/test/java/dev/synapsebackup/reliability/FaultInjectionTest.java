package dev.synapsebackup.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.FaultProxy.ResetAfter;
import dev.synapsebackup.testing.FaultProxy.Stall;
import dev.synapsebackup.testing.FaultProxy.Status;
import dev.synapsebackup.testing.S3ProxyServer;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.FutureTask;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults injected over real HTTP between the tool and a real S3 server: transient errors are
 * retried with bounded backoff and the result is identical; permanent ones abort cleanly and
 * leave nothing behind; a restore whose download breaks never touches live data.
 */
class FaultInjectionTest {
    static final int MAX_ATTEMPTS = 4;

    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.onFilesystem();

    @TempDir
    static Path tmp;

    static Path hs;
    static Path yaml;
    static Path pass;
    static FaultProxy proxy;
    static int bucketNumber;

    String bucket;

    @BeforeAll
    static void setUp() throws Exception {
        // Fast, bounded retries for the test; the defaults are 5 attempts, 100 ms .. 20 s.
        System.setProperty(S3Repository.MAX_ATTEMPTS_PROPERTY, String.valueOf(MAX_ATTEMPTS));
        System.setProperty(S3Repository.RETRY_BASE_DELAY_PROPERTY, "20");
        System.setProperty(S3Repository.RETRY_MAX_DELAY_PROPERTY, "200");
        hs = tmp.resolve("hs");
        // 20 MB of media: a data object of three 8 MiB parts.
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(20, 20_000_000));
        pass = tmp.resolve("passphrase");
        Files.writeString(pass, "fault passphrase\n");
        proxy = new FaultProxy(S3.port());
    }

    @AfterAll
    static void tearDown() throws IOException {
        System.clearProperty(S3Repository.MAX_ATTEMPTS_PROPERTY);
        System.clearProperty(S3Repository.RETRY_BASE_DELAY_PROPERTY);
        System.clearProperty(S3Repository.RETRY_MAX_DELAY_PROPERTY);
        proxy.close();
    }

    @BeforeEach
    void freshBucket() {
        bucket = "faults-" + (++bucketNumber);
        S3.createBucket(bucket);
        proxy.reset();
    }

    @AfterEach
    void clearFaults() {
        proxy.reset();
    }

    private Path config() throws IOException {
        Path c = tmp.resolve("config-" + bucket + ".yaml");
        Files.writeString(c, """
                synapse-config: %s
                passphrase-file: %s
                s3:
                  access-key: %s
                  secret-key: %s
                  endpoint: %s
                  bucket: %s
                  path: /faults
                  s3-uri-style: path
                service:
                  stop-command: [/bin/true]
                  start-command: [/bin/true]
                """.formatted(yaml, pass, S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY, proxy.endpoint(), bucket));
        return c;
    }

    private Cli.Result cli(String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("--config", config().toString()));
        return new Cli().run(a.toArray(String[]::new));
    }

    private String create() throws IOException {
        Cli.Result c = cli("create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        return c.lastLine();
    }

    private long count(java.util.function.Predicate<FaultProxy.Request> p) {
        return proxy.requests().stream().filter(p).count();
    }

    /** Restores into a new directory without faults and compares every file with the live tree. */
    private void assertRestoresIdentical(String id) throws IOException {
        proxy.reset();
        Path target = Files.createDirectories(tmp.resolve("target-" + bucket));
        Cli.Result r = cli("restore", id, "--target", target.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertSameLocalMedia(target);
        assertThat(Trees.sha256(target.resolve(yaml.toString().substring(1)))).isEqualTo(Trees.sha256(yaml));
    }

    /** The restored local media in {@code target} are the live ones, byte for byte. */
    static void assertSameLocalMedia(Path target, Path hs) throws IOException {
        for (String d : List.of("local_content", "local_thumbnails")) {
            Path media = hs.resolve("data/media_store").resolve(d);
            assertThat(Trees.fingerprint(target.resolve(media.toString().substring(1))))
                    .as(d).isEqualTo(Trees.fingerprint(media));
        }
    }

    private static void assertSameLocalMedia(Path target) throws IOException {
        assertSameLocalMedia(target, hs);
    }

    private void assertNothingLeftInTheBucket() {
        assertThat(S3.keys(bucket)).isEmpty();
        assertThat(S3.incompleteUploads(bucket)).isEmpty();
    }

    @Test
    void transientErrorsOnPartUploadsAreRetriedAndTheBackupIsIdentical() throws Exception {
        proxy.inject(r -> r.isUploadPart() && r.partNumber() == 1, 2, new Status(503, "SlowDown"))
                .inject(r -> r.isUploadPart() && r.partNumber() == 2, 1, new Status(500, "InternalError"))
                .inject(r -> r.isUploadPart() && r.partNumber() == 3, 1, new ResetAfter(0));
        String id = create();
        assertThat(proxy.injected()).isEqualTo(4);
        assertThat(count(r -> r.isUploadPart() && r.partNumber() == 1)).isEqualTo(3);
        assertThat(S3.incompleteUploads(bucket)).isEmpty();
        Cli.Result v = cli("verify", id);
        assertThat(v.exitCode()).as(v.toString()).isZero();
        assertRestoresIdentical(id);
    }

    @Test
    void slowPartUploadsStillComplete() throws Exception {
        proxy.inject(FaultProxy.Request::isUploadPart, 2, new Stall(Duration.ofMillis(1500)));
        String id = create();
        assertThat(proxy.injected()).isEqualTo(2);
        assertRestoresIdentical(id);
    }

    @Test
    void transientErrorsOnListingAreRetried() throws Exception {
        String id = create();
        proxy.inject(FaultProxy.Request::isList, 2, new Status(503, "SlowDown"))
                .inject(FaultProxy.Request::isList, 1, new ResetAfter(20));
        Cli.Result l = cli("list");
        assertThat(l.exitCode()).as(l.toString()).isZero();
        assertThat(l.stdout()).contains(id);
        assertThat(proxy.injected()).isEqualTo(3);
    }

    @Test
    void downloadCutMidStreamIsResumedAndTheRestoreIsIdentical() throws Exception {
        String id = create();
        // The data object's GET: a 500 first, then two resets part-way through the body.
        proxy.inject(r -> r.isGet(id), 1, new Status(500, "InternalError"))
                .inject(r -> r.isGet(id), 1, new ResetAfter(3_000_000))
                .inject(r -> r.isGet(id), 1, new ResetAfter(5_000_000))
                .inject(r -> r.isGet(id + ".manifest"), 1, new ResetAfter(400));
        Path target = Files.createDirectories(tmp.resolve("resumed-" + bucket));
        Cli.Result r = cli("restore", id, "--target", target.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(proxy.injected()).isEqualTo(4);
        assertSameLocalMedia(target);
    }

    @Test
    void permanentPartFailureAbortsTheUploadAndLeavesNothing() throws Exception {
        proxy.inject(r -> r.isUploadPart() && r.partNumber() == 2, Integer.MAX_VALUE, new Status(500, "InternalError"));
        Cli.Result c = cli("create");
        assertThat(c.exitCode()).as(c.toString()).isEqualTo(1);
        assertThat(c.stderr().strip()).doesNotContain("\n\tat ").contains("HTTP 500");
        // Bounded: exactly MAX_ATTEMPTS tries of the failing part.
        assertThat(count(r -> r.isUploadPart() && r.partNumber() == 2)).isEqualTo(MAX_ATTEMPTS);
        assertThat(count(r -> r.method().equals("DELETE") && r.target().contains("uploadId="))).isPositive();
        assertNothingLeftInTheBucket();
    }

    @Test
    void aManifestThatCannotBeWrittenTakesTheDataObjectWithIt() throws Exception {
        proxy.inject(r -> r.method().equals("PUT") && r.target().contains(".manifest"), Integer.MAX_VALUE,
                new Status(500, "InternalError"));
        Cli.Result c = cli("create");
        assertThat(c.exitCode()).as(c.toString()).isEqualTo(1);
        assertThat(count(r -> r.method().equals("PUT") && r.target().contains(".manifest"))).isEqualTo(MAX_ATTEMPTS);
        // The data object had been stored; a failed create leaves none (SPEC §3), nor its lock.
        assertThat(count(r -> r.method().equals("DELETE") && !r.target().contains("locks/"))).isPositive();
        assertNothingLeftInTheBucket();
    }

    @Test
    void serverCutDuringCreateFailsAndLeavesNothingOnceItIsBack() throws Exception {
        // The server goes away at the first part; while it is away, the abort keeps trying.
        proxy.inject(FaultProxy.Request::isUploadPart, 1, new FaultProxy.Cut());
        java.util.function.Predicate<FaultProxy.Request> isAbort =
                r -> r.method().equals("DELETE") && r.target().contains("uploadId=");
        FutureTask<Cli.Result> create = new FutureTask<>(() -> cli("create"));
        Thread t = new Thread(create, "fault-test-create");
        t.start();
        // Back once a whole abort (the SDK's MAX_ATTEMPTS tries) has failed and been tried again.
        Await.until("the abort to be retried after failing", Duration.ofSeconds(120),
                () -> create.isDone() || proxy.refused().stream().filter(isAbort).count() > MAX_ATTEMPTS);
        proxy.cut(false);
        Cli.Result c = create.get();
        assertThat(proxy.refused().stream().filter(isAbort).count()).as(c.toString()).isGreaterThan(MAX_ATTEMPTS);
        assertThat(c.exitCode()).as(c.toString()).isEqualTo(1);
        assertNothingLeftInTheBucket();
    }

    @Test
    void liveRestoreWhoseDownloadKeepsBreakingLeavesLiveByteIdentical() throws Exception {
        String id = create();
        Path db = hs.resolve("data/homeserver.db");
        Map<String, String> before = Trees.fingerprint(hs);
        // Cut after 2 MB, and from then on the server answers every ranged re-GET with 503.
        proxy.inject(r -> r.isGet(id), 1, new ResetAfter(2_000_000))
                .inject(r -> r.isGet(id), Integer.MAX_VALUE, new Status(503, "ServiceUnavailable"));
        Cli.Result r = cli("restore", id);
        assertThat(r.exitCode()).as(r.toString()).isNotZero();
        assertThat(r.stderr()).doesNotContain("\tat ");
        assertThat(r.stderr()).contains("the live data was not changed").contains("HTTP 503");
        // Bounded: the first GET, then for each of the object's 4 MiB ranges (the first one's
        // resume, the others read in parallel) one GET that the SDK tries MAX_ATTEMPTS times. The
        // first range to fail cancels the others, so some may stop sooner.
        long size = S3.blobStore().blobMetadata(bucket, "faults/" + id).contentLength();
        long ranges = (size + (4 << 20) - 1) / (4 << 20);
        assertThat(count(q -> q.isGet(id))).isBetween(1L + MAX_ATTEMPTS, 1 + ranges * MAX_ATTEMPTS);
        assertThat(Trees.fingerprint(hs)).isEqualTo(before);
        assertThat(Files.exists(db)).isTrue();
        try (Stream<Path> s = Files.walk(tmp)) {
            assertThat(s.filter(p -> p.getFileName().toString().startsWith(".synapse-restore-"))).isEmpty();
        }
    }
}
