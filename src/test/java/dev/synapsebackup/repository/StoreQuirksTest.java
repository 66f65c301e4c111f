package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.synapsebackup.ConfigException;
import dev.synapsebackup.RepositoryLockedException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.repository.RepositoryLock.LockMode;
import dev.synapsebackup.retention.FakeBackups;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.FaultProxy.Status;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * How the lock, prune and check behave on stores that differ from S3 in the ways real
 * S3-compatible servers do (issue 16): listings that fail, conditional writes that are ignored,
 * objects stored other than written, no ListMultipartUploads, no virtual-hosted addressing, no
 * aws-chunked uploads; and a run of this host killed with {@code kill -9}. Faults are injected
 * over real HTTP in front of a real S3 server ({@link FaultProxy}).
 */
class StoreQuirksTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    static FaultProxy proxy;
    static int buckets;

    @TempDir
    Path tmp;

    String bucket;
    final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void startProxy() throws IOException {
        System.setProperty(S3Repository.MAX_ATTEMPTS_PROPERTY, "2");
        System.setProperty(S3Repository.RETRY_BASE_DELAY_PROPERTY, "10");
        System.setProperty(S3Repository.RETRY_MAX_DELAY_PROPERTY, "50");
        proxy = new FaultProxy(S3.port());
    }

    @AfterAll
    static void stopProxy() throws IOException {
        System.clearProperty(S3Repository.MAX_ATTEMPTS_PROPERTY);
        System.clearProperty(S3Repository.RETRY_BASE_DELAY_PROPERTY);
        System.clearProperty(S3Repository.RETRY_MAX_DELAY_PROPERTY);
        proxy.close();
    }

    @BeforeEach
    void freshBucket() {
        bucket = "quirks-" + (++buckets);
        S3.createBucket(bucket);
        proxy.reset();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
    }

    private S3Repository viaProxy() {
        S3Repository r = S3Repository.builder(S3.parameters(bucket).endpoint(proxy.endpoint().toString())
                .path("prod").build()).build();
        opened.add(r);
        return r;
    }

    private List<String> lockKeys() {
        return S3.keys(bucket).stream().filter(k -> k.startsWith("prod/locks/")).toList();
    }

    private static RepositoryLock.Builder lock(Repository repo, LockMode mode) {
        return RepositoryLock.builder(repo, "create").mode(mode).settle(Duration.ofMillis(1100))
                .refreshInterval(Duration.ZERO);
    }

    // ---- item 3: the lock never leaks ----

    @ParameterizedTest
    @EnumSource(value = LockMode.class, names = {"AUTO", "WRITE_THEN_LIST"})
    void theLockIsRemovedWhenListingTheLocksFailsAfterItWasWritten(LockMode mode) {
        S3Repository repo = viaProxy();
        proxy.inject(FaultProxy.Request::isList, Integer.MAX_VALUE, new Status(500, "InternalError"));
        assertThatThrownBy(() -> lock(repo, mode).acquire()).hasStackTraceContaining("HTTP 500");
        assertThat(proxy.requests()).anyMatch(r -> r.method().equals("PUT") && r.target().contains("/prod/locks/"));
        assertThat(lockKeys()).as("no lock left behind").isEmpty();

        proxy.reset();
        try (RepositoryLock l = lock(repo, mode).acquire()) {
            assertThat(lockKeys()).containsExactly("prod/" + l.key());
        }
        assertThat(lockKeys()).isEmpty();
    }

    // ---- item 4: a store that ignores If-None-Match ----

    /** Emulates a store that ignores {@code If-None-Match: *}: a put of an existing key "succeeds". */
    private void ignoreIfNoneMatch() {
        String bucketPath = "/" + bucket + "/";
        proxy.inject(r -> r.method().equals("PUT") && r.target().startsWith(bucketPath) && !r.target().contains("?")
                && S3.keys(bucket).contains(r.target().substring(bucketPath.length())), Integer.MAX_VALUE, new Status(200, "OK"));
    }

    @Test
    void aStoreThatIgnoresConditionalWritesIsDetectedAndLockedByListing() {
        ignoreIfNoneMatch();
        S3Repository first = viaProxy();
        try (RepositoryLock held = lock(first, LockMode.AUTO).acquire()) {
            assertThat(first.supportsConditionalPut()).as("detected by the probe").isFalse();
            assertThat(held.key()).startsWith("locks/").isNotEqualTo(RepositoryLock.EXCLUSIVE_KEY);
            assertThat(lockKeys()).containsExactly("prod/" + held.key());

            // A second run on the same store: its own probe finds the same, and the listing stops it.
            S3Repository second = viaProxy();
            assertThatThrownBy(() -> lock(second, LockMode.AUTO).owner("other-host", 7).acquire())
                    .isInstanceOfSatisfying(RepositoryLockedException.class, e -> assertThat(e.exitCode()).isEqualTo(6))
                    .hasMessageContaining("create on " + LockLiveness.HOST);
            assertThat(second.supportsConditionalPut()).isFalse();
            assertThat(lockKeys()).containsExactly("prod/" + held.key());
        }
        assertThat(lockKeys()).isEmpty();
    }

    @Test
    void aStoreThatHonoursConditionalWritesKeepsTheSingleLockObject() {
        S3Repository repo = viaProxy();
        try (RepositoryLock held = lock(repo, LockMode.AUTO).acquire()) {
            assertThat(held.key()).isEqualTo(RepositoryLock.EXCLUSIVE_KEY);
            assertThat(repo.supportsConditionalPut()).isTrue();
        }
        // One probe per repository, on a key of its own (put, then a conditional put refused with
        // 412, then removed); then the one lock object.
        assertThat(proxy.requests()).filteredOn(r -> r.method().equals("PUT")).extracting(r -> r.target())
                .hasSize(3).last().asString().endsWith("/prod/locks/exclusive");
        assertThat(S3.keys(bucket)).noneMatch(k -> k.contains("probe"));
    }

    // ---- item 5: a lock that reads back different from what was written ----

    @ParameterizedTest
    @EnumSource(value = LockMode.class, names = {"CONDITIONAL_PUT", "WRITE_THEN_LIST"})
    void aLockTheStoreAlteredIsReportedAndRemoved(LockMode mode) throws IOException {
        LocalRepository disk = new LocalRepository(tmp.resolve("repo"));
        disk.createIfMissing();
        Repository framing = new AwsChunkedVerbatim(disk);
        assertThatThrownBy(() -> lock(framing, mode).settle(Duration.ofMillis(30)).acquire())
                .isInstanceOfSatisfying(SynapseBackupException.class, e -> assertThat(e.exitCode()).isEqualTo(1))
                .hasMessageContaining("the store altered the lock object")
                .hasMessageContaining("removed it again");
        assertThat(RepositoryLock.list(disk)).as("no lock needs unlock --force").isEmpty();
        try (RepositoryLock l = lock(disk, mode).settle(Duration.ofMillis(30)).acquire()) {
            assertThat(l.info().host()).isEqualTo(LockLiveness.HOST);
        }
    }

    /**
     * A real local repository behind a store that keeps the aws-chunked framing of what it is
     * sent as part of the object (s3rver 3.7.1 over http did so).
     */
    private static final class AwsChunkedVerbatim implements Repository {
        private final Repository disk;

        AwsChunkedVerbatim(Repository disk) {
            this.disk = disk;
        }

        private static byte[] framed(byte[] content) {
            String sig = "0".repeat(64);
            byte[] head = (Integer.toHexString(content.length) + ";chunk-signature=" + sig + "\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
            byte[] tail = ("\r\n0;chunk-signature=" + sig + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] all = new byte[head.length + content.length + tail.length];
            System.arraycopy(head, 0, all, 0, head.length);
            System.arraycopy(content, 0, all, head.length, content.length);
            System.arraycopy(tail, 0, all, head.length + content.length, tail.length);
            return all;
        }

        @Override
        public ObjectInfo put(String key, byte[] content, Map<String, String> metadata) throws IOException {
            return disk.put(key, framed(content), metadata);
        }

        @Override
        public boolean putIfAbsent(String key, byte[] content, Map<String, String> metadata) throws IOException {
            if (!disk.putIfAbsent(key, framed(content), metadata)) {
                return false;
            }
            try (InputStream in = disk.open(key)) {
                return java.util.Arrays.equals(in.readNBytes(content.length + 1), content);
            }
        }

        @Override
        public String location() {
            return disk.location();
        }

        @Override
        public boolean canUseBucket() {
            return disk.canUseBucket();
        }

        @Override
        public void checkAccess() {
            disk.checkAccess();
        }

        @Override
        public boolean exists(String backupId) {
            return disk.exists(backupId);
        }

        @Override
        public List<BackupEntry> list() {
            return disk.list();
        }

        @Override
        public void delete(String backupId) {
            disk.delete(backupId);
        }

        @Override
        public Optional<ObjectInfo> stat(String key) throws IOException {
            return disk.stat(key);
        }

        @Override
        public InputStream open(String key) throws IOException {
            return disk.open(key);
        }

        @Override
        public ObjectWriter create(String key, long expectedSize, Map<String, String> metadata) {
            throw new UnsupportedOperationException("only small objects in this test");
        }

        @Override
        public void deleteObject(String key) throws IOException {
            disk.deleteObject(key);
        }

        @Override
        public void listObjects(Consumer<ObjectInfo> consumer) throws IOException {
            disk.listObjects(consumer);
        }

        @Override
        public int removeStaleUploads(Duration olderThan) throws IOException {
            return disk.removeStaleUploads(olderThan);
        }

        @Override
        public void close() {
            disk.close();
        }
    }

    // ---- item 8: a dead run of this host ----

    @ParameterizedTest
    @EnumSource(value = LockMode.class, names = {"CONDITIONAL_PUT", "WRITE_THEN_LIST"})
    void aLockOfAKilledProcessOfThisHostIsStaleAtOnce(LockMode mode) throws Exception {
        LocalRepository repo = new LocalRepository(tmp.resolve("repo"));
        repo.createIfMissing();
        Process run = new ProcessBuilder("sleep", "600").start();
        try {
            // The lock as that run would have written it; it never releases it.
            lock(repo, mode).settle(Duration.ofMillis(30)).owner(LockLiveness.HOST, run.pid()).acquire();
            assertThatThrownBy(() -> lock(repo, mode).settle(Duration.ofMillis(30)).acquire())
                    .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("(pid " + run.pid() + ")");

            run.destroyForcibly(); // kill -9
            run.waitFor();
            List<RepositoryLock.LockInfo> locks = RepositoryLock.list(repo);
            assertThat(locks).hasSize(1);
            assertThat(locks.get(0).isDeadLocalRun()).isTrue();
            assertThat(locks.get(0).describe()).contains("(pid " + run.pid() + ", no longer running)");

            // "unlock" removes it without --force, and a new run could take over.
            Cli.Result r = new Cli().run("unlock", "--repo", repo.root().toString());
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stdout()).contains("removed 1 lock");
            assertThat(RepositoryLock.list(repo)).isEmpty();
        } finally {
            run.destroyForcibly();
        }
    }

    @Test
    void aNewRunTakesOverTheLockOfAKilledProcessOfThisHost() throws Exception {
        LocalRepository repo = new LocalRepository(tmp.resolve("repo"));
        repo.createIfMissing();
        Process run = new ProcessBuilder("sleep", "600").start();
        lock(repo, LockMode.AUTO).owner(LockLiveness.HOST, run.pid()).acquire();
        run.destroyForcibly();
        run.waitFor();
        try (RepositoryLock mine = lock(repo, LockMode.AUTO).acquire()) {
            assertThat(mine.info().pid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(RepositoryLock.list(repo)).hasSize(1);
        }
    }

    @Test
    void aLiveProcessIsTheHolderOnlyIfItStartedWhenTheLockSays() {
        Instant now = Instant.now();
        long me = ProcessHandle.current().pid();
        Instant myStart = ProcessHandle.current().info().startInstant().orElseThrow();
        String host = LockLiveness.HOST;
        String boot = LockLiveness.MACHINE_ID;
        assertThat(boot).isNotNull();
        RepositoryLock.LockInfo alive = new RepositoryLock.LockInfo("locks/x", host, me, "create", now, now, "t",
                "held", now, boot, myStart);
        assertThat(alive.isStale(now, Duration.ofMinutes(30))).isFalse();
        // The pid was reused by a process that started later: the holder is gone.
        RepositoryLock.LockInfo reused = new RepositoryLock.LockInfo("locks/x", host, me, "create", now, now, "t",
                "held", now, boot, myStart.minus(Duration.ofHours(1)));
        assertThat(reused.isStale(now, Duration.ofMinutes(30))).isTrue();
        // The same by clock ticks since boot, which a step of the wall clock (NTP after boot) does not move.
        long myTicks = dev.synapsebackup.io.WorkDir.startTicks(me);
        assertThat(myTicks).isPositive();
        RepositoryLock.LockInfo aliveByTicks = new RepositoryLock.LockInfo("locks/x", host, me, "create", now, now, "t",
                "held", now, boot, myStart.minus(Duration.ofHours(1)), myTicks);
        assertThat(aliveByTicks.isStale(now, Duration.ofMinutes(30))).as("ticks decide, not the wall-clock start").isFalse();
        RepositoryLock.LockInfo reusedByTicks = new RepositoryLock.LockInfo("locks/x", host, me, "create", now, now, "t",
                "held", now, boot, myStart, myTicks + 1);
        assertThat(reusedByTicks.isStale(now, Duration.ofMinutes(30))).isTrue();
        // Another machine, boot or pid namespace of the same name: its pids say nothing here.
        RepositoryLock.LockInfo elsewhere = new RepositoryLock.LockInfo("locks/x", host, Long.MAX_VALUE, "create", now,
                now, "t", "held", now, "another-boot", null);
        assertThat(elsewhere.isStale(now, Duration.ofMinutes(30))).isFalse();
        RepositoryLock.LockInfo otherHost = new RepositoryLock.LockInfo("locks/x", "other-host", Long.MAX_VALUE,
                "create", now, now, "t", "held", now, boot, null);
        assertThat(otherHost.isStale(now, Duration.ofMinutes(30))).isFalse();
    }

    // ---- item 6: one whole-payload SHA-256 per request, no aws-chunked ----

    @Test
    void uploadsOverHttpAreSignedWithTheSha256OfTheWholePayload() throws Exception {
        try (Recorder rec = new Recorder(false)) {
            S3Parameters p = S3Parameters.builder().bucket("b").endpoint(rec.endpoint()).region("us-east-1")
                    .uriStyle("path").accessKey("AKIDEXAMPLE").secretKey(Secret.of("secret")).build();
            try (S3Repository repo = S3Repository.builder(p).partSize(S3Repository.MIN_PART_SIZE).build()) {
                byte[] big = new byte[(int) S3Repository.MIN_PART_SIZE + 1000];
                new java.util.Random(1).nextBytes(big);
                try (ObjectWriter w = repo.create("big", big.length, Map.of())) {
                    w.write(big);
                    w.commit();
                }
                repo.put("small", "hello".getBytes(StandardCharsets.UTF_8), Map.of());
            }
            List<Recorder.Seen> puts = rec.seen.stream().filter(s -> s.method().equals("PUT")).toList();
            assertThat(puts).hasSize(3); // two parts and one small object
            for (Recorder.Seen s : puts) {
                assertThat(s.contentSha256()).as(s.target()).isEqualTo(Sha256.hexOf(s.body()));
                assertThat(s.contentEncoding()).as(s.target()).doesNotContain("aws-chunked");
                assertThat(s.authorization()).as(s.target()).contains("x-amz-content-sha256");
            }
        }
    }

    // ---- item 7: a store without virtual-hosted addressing ----

    @Test
    void checkReportsAStoreThatDoesNotServeVirtualHostedAddressing() throws Exception {
        try (Recorder rec = new Recorder(true)) {
            S3Parameters p = S3Parameters.builder().bucket("synapse").endpoint(rec.endpoint()).region("us-east-1")
                    .uriStyle("host").accessKey("AKIDEXAMPLE").secretKey(Secret.of("secret")).build();
            try (S3Repository repo = S3Repository.builder(p).dnsResolver(S3ProxyServer.LOCALHOST_RESOLVER).build()) {
                assertThatThrownBy(repo::checkAccess).isInstanceOf(ConfigException.class)
                        .hasMessage("the store does not serve virtual-hosted addressing; set s3-uri-style: path");
                assertThat(repo.canUseBucket()).isFalse();
            }
            assertThat(rec.seen).extracting(Recorder.Seen::host).allMatch(h -> h.startsWith("synapse.localhost"));
        }
        // A store that serves it passes.
        try (S3Repository repo = S3Repository.builder(S3.virtualHostParameters(bucket).build())
                .dnsResolver(S3ProxyServer.LOCALHOST_RESOLVER).build()) {
            repo.checkAccess();
        }
    }

    /**
     * A loopback HTTP server that records what the SDK sends and answers like an S3 server: the
     * few answers an upload needs, or (with {@code rootOnly}) a store that answers every host name
     * as its root, with the list of all buckets.
     */
    private static final class Recorder implements AutoCloseable {
        record Seen(String method, String host, String target, String contentSha256, String contentEncoding,
                    String authorization, byte[] body) {
        }

        final List<Seen> seen = new CopyOnWriteArrayList<>();
        private final HttpServer server;

        Recorder(boolean rootOnly) throws IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", ex -> {
                try (ex) {
                    byte[] body = ex.getRequestBody().readAllBytes();
                    var h = ex.getRequestHeaders();
                    seen.add(new Seen(ex.getRequestMethod(), h.getFirst("Host"), ex.getRequestURI().toString(),
                            h.getFirst("x-amz-content-sha256"), String.valueOf(h.getFirst("Content-Encoding")),
                            h.getFirst("Authorization"), body));
                    answer(ex, rootOnly);
                }
            });
            server.start();
        }

        String endpoint() {
            return "http://localhost:" + server.getAddress().getPort();
        }

        private static void answer(HttpExchange ex, boolean rootOnly) throws IOException {
            String q = ex.getRequestURI().getRawQuery() == null ? "" : ex.getRequestURI().getRawQuery();
            String method = ex.getRequestMethod();
            String xml = null;
            if (rootOnly) {
                xml = method.equals("HEAD") ? null : "<ListAllMyBucketsResult><Owner><ID>1</ID></Owner><Buckets>"
                        + "<Bucket><Name>synapse</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket>"
                        + "</Buckets></ListAllMyBucketsResult>";
            } else if (method.equals("POST") && q.contains("uploads")) {
                xml = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>big</Key><UploadId>u1</UploadId>"
                        + "</InitiateMultipartUploadResult>";
            } else if (method.equals("POST") && q.contains("uploadId")) {
                xml = "<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>big</Key><ETag>\"e\"</ETag>"
                        + "</CompleteMultipartUploadResult>";
            }
            ex.getResponseHeaders().add("ETag", "\"e\"");
            if (xml == null) {
                ex.sendResponseHeaders(200, -1);
                return;
            }
            byte[] b = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + xml).getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/xml");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    // ---- items 1 and 2 through the command line: prune on S3 ----

    private Cli.Result prune(String... keep) throws IOException {
        Path pass = tmp.resolve("pass");
        Files.writeString(pass, FakeBackups.PASSPHRASE + "\n");
        List<String> args = new ArrayList<>(List.of("prune"));
        args.addAll(List.of(keep));
        args.addAll(List.of("--bucket", bucket, "--path", "prod", "--endpoint", proxy.endpoint().toString(),
                "--s3-uri-style", "path", "--region", "us-east-1", "--passphrase-file", pass.toString()));
        return new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY).run(args.toArray(String[]::new));
    }

    private void populate() {
        try (S3Repository repo = S3Repository.builder(S3.parameters(bucket).path("prod").build()).build()) {
            new FakeBackups(repo).complete("backup-20240501000000000000").complete("backup-20240502000000000000")
                    .complete("backup-20240503000000000000").foreign("20240504000000000000");
        }
        for (int i = 0; i < 5; i++) {
            S3.putObject(bucket, "prod/0junk/" + i, new byte[] {1}, Map.of());
        }
    }

    @Test
    void pruneWithoutListMultipartUploadsWarnsAndReportsWhatItDid() throws IOException {
        populate();
        proxy.inject(r -> r.method().equals("GET") && r.target().contains("uploads"), Integer.MAX_VALUE,
                new Status(501, "NotImplemented"));
        Cli.Result r = prune("--keep-last", "1");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains(
                "remove  backup-20240501000000000000", "remove  backup-20240502000000000000",
                "remove  backup-20240503000000000000", "keep    20240504000000000000",
                "left alone: 5 objects under the prefix that are not a backup",
                "kept 1, removed 3 of 4 backups");
        assertThat(r.stderr()).contains("cannot clean up interrupted uploads").contains("501 NotImplemented");
        assertThat(S3.keys(bucket)).containsExactlyInAnyOrder("prod/20240504000000000000",
                "prod/0junk/0", "prod/0junk/1", "prod/0junk/2", "prod/0junk/3", "prod/0junk/4");
    }

    @Test
    void aPruneThatFailsPartWayReportsWhatItDeletedAndReleasesTheLock() throws IOException {
        populate();
        // Deleting the second backup's data object keeps failing.
        proxy.inject(r -> r.method().equals("DELETE") && r.target().endsWith("/prod/backup-20240502000000000000"),
                Integer.MAX_VALUE, new Status(500, "InternalError"));
        Cli.Result r = prune("--keep-last", "2");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        // Newest first: the second backup failed, so the first was not tried; both are still there.
        assertThat(r.stdout()).contains("failed  backup-20240501000000000000", "failed  backup-20240502000000000000", "keep    backup-20240503000000000000",
                "kept 2, removed 0 of 4 backups before failing");
        assertThat(r.stderr()).contains("backup-20240502000000000000").contains("HTTP 500");
        assertThat(lockKeys()).isEmpty();
    }
}
