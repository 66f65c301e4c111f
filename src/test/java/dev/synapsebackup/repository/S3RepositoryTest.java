package dev.synapsebackup.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.RepositoryAccessException;
import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class S3RepositoryTest {
    private static final long MIB = 1024 * 1024;
    private static final Map<String, String> MARKER = Map.of(BackupId.FORMAT_METADATA, "1");

    @RegisterExtension
    static final S3ProxyServer MEMORY = S3ProxyServer.inMemory();

    @RegisterExtension
    static final S3ProxyServer DISK = S3ProxyServer.onFilesystem();

    private static int bucketCounter;

    /** A fresh bucket per test, so tests do not see each other's objects. */
    private static synchronized String newBucket(S3ProxyServer server) {
        String bucket = "bucket-" + (++bucketCounter);
        server.createBucket(bucket);
        return bucket;
    }

    private static S3Repository repo(S3Parameters p) {
        return S3Repository.builder(p).build();
    }

    // ---- addressing and access ----

    @Test
    void pathStyleReachesTheServer() throws IOException {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).build())) {
            repo.checkAccess();
            assertThat(repo.canUseBucket()).isTrue();
            repo.put("hello", "world".getBytes(StandardCharsets.UTF_8), Map.of("Colour", "blue"));
        }
        assertThat(MEMORY.keys(bucket)).containsExactly("hello");
    }

    @Test
    void virtualHostedAddressingPutsTheBucketInTheHostName() throws IOException {
        String bucket = newBucket(MEMORY);
        Set<String> resolved = ConcurrentHashMap.newKeySet();
        S3Parameters p = MEMORY.virtualHostParameters(bucket).path("vh").build();
        assertThat(p.addressingStyle()).isEqualTo(S3Parameters.AddressingStyle.VIRTUAL);
        try (S3Repository repo = S3Repository.builder(p).dnsResolver(S3ProxyServer.recordingResolver(resolved)).build()) {
            repo.checkAccess();
            repo.put("obj", new byte[] {1, 2, 3}, Map.of());
            try (InputStream in = repo.open("obj")) {
                assertThat(in.readAllBytes()).containsExactly(1, 2, 3);
            }
        }
        assertThat(resolved).containsExactly(bucket + ".localhost");
        assertThat(MEMORY.keys(bucket)).containsExactly("vh/obj");
    }

    @Test
    void virtualHostedMissingBucketIsReported() {
        Set<String> resolved = ConcurrentHashMap.newKeySet();
        S3Parameters p = MEMORY.virtualHostParameters("no-such-vbucket").build();
        try (S3Repository repo = S3Repository.builder(p).dnsResolver(S3ProxyServer.recordingResolver(resolved)).build()) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(RepositoryAccessException.class)
                    .hasMessage("bucket \"no-such-vbucket\" does not exist");
        }
        assertThat(resolved).containsExactly("no-such-vbucket.localhost");
    }

    /**
     * S3Proxy has no Object Lock: configured retention is refused as an invalid configuration
     * (exit 2, naming the key) before anything is written, and without it the store is asked
     * nothing new and no backup counts as retained.
     */
    @Test
    void objectLockIsRefusedOnAStoreWithoutIt() throws IOException {
        String bucket = newBucket(MEMORY);
        S3Parameters locked = MEMORY.parameters(bucket).objectLock(
                new dev.synapsebackup.config.ObjectLock(dev.synapsebackup.config.ObjectLock.Mode.GOVERNANCE,
                        java.time.Duration.ofDays(30))).build();
        try (S3Repository repo = repo(locked)) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(dev.synapsebackup.ConfigException.class)
                    .hasMessageStartingWith("\"s3.object-lock\" is set but bucket \"" + bucket
                            + "\" does not have Object Lock enabled");
        }
        try (S3Repository repo = repo(MEMORY.parameters(bucket).build())) {
            repo.checkAccess();
            repo.put("backup-20240501000000000000", new byte[] {1}, MARKER);
            assertThat(repo.retainedUntil("backup-20240501000000000000")).isEmpty();
            assertThat(repo.objectLockStatus().getKey()).isFalse();
        }
    }

    @Test
    void wrongSecretKeyIsAccessDenied() {
        String bucket = newBucket(MEMORY);
        S3Parameters p = MEMORY.parameters(bucket).secretKey(Secret.of("wrong-secret-value")).build();
        try (S3Repository repo = repo(p)) {
            assertThatThrownBy(repo::checkAccess)
                    .isInstanceOf(RepositoryAccessException.class)
                    .hasMessageStartingWith("access to bucket \"" + bucket + "\" denied (403")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wrong-secret-value"));
            assertThat(repo.canUseBucket()).isFalse();
        }
    }

    /** A single PUT and a multipart upload signed with a wrong secret are refused, and nothing is left. */
    @Test
    void uploadsWithAWrongSecretKeyAreRefused() throws IOException {
        String bucket = newBucket(MEMORY);
        S3Parameters p = MEMORY.parameters(bucket).secretKey(Secret.of("wrong-secret-value")).build();
        try (S3Repository repo = repo(p)) {
            assertThatThrownBy(() -> repo.put("obj", new byte[] {1, 2, 3}, Map.of()))
                    .hasMessageContaining("403");
            assertThatThrownBy(() -> {
                try (ObjectWriter w = repo.create("big", 12L << 20, Map.of())) {
                    w.write(new byte[12 << 20]);
                    w.commit();
                }
            }).hasMessageContaining("403");
        }
        assertThat(MEMORY.keys(bucket)).isEmpty();
    }

    @Test
    void unknownAccessKeyIsAccessDenied() {
        String bucket = newBucket(MEMORY);
        S3Parameters p = MEMORY.parameters(bucket).accessKey("nobody").build();
        try (S3Repository repo = repo(p)) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(RepositoryAccessException.class)
                    .hasMessageStartingWith("access to bucket \"" + bucket + "\" denied (403");
        }
    }

    @Test
    void withoutKeysTheDefaultChainAndProfileAreUsed() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("AWS_ACCESS_KEY_ID") == null
                && System.getProperty("aws.accessKeyId") == null, "AWS credentials in the environment");
        // Keep the chain from probing the EC2 instance metadata service (slow off EC2).
        System.setProperty("aws.disableEc2Metadata", "true");
        S3Parameters p = S3Parameters.builder().endpoint(MEMORY.endpoint().toString()).bucket("b").uriStyle("path")
                .profile("synapse-backup-test-no-such-profile").build();
        try (S3Repository repo = S3Repository.builder(p).maxAttempts(1).build()) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(RepositoryAccessException.class)
                    .hasMessageStartingWith("no usable AWS credentials")
                    .hasMessageContaining("synapse-backup-test-no-such-profile");
        }
    }

    @Test
    void missingBucketIsReported() {
        try (S3Repository repo = repo(MEMORY.parameters("does-not-exist").build())) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(RepositoryAccessException.class)
                    .hasMessage("bucket \"does-not-exist\" does not exist");
        }
    }

    @Test
    void connectionRefusedIsReported() {
        S3Parameters p = MEMORY.parameters("b").endpoint("http://127.0.0.1:1").build();
        try (S3Repository repo = S3Repository.builder(p).maxAttempts(1).build()) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(RepositoryAccessException.class)
                    .hasMessage("cannot connect to http://127.0.0.1:1: Connection refused");
        }
    }

    @Test
    void unknownHostIsReported() {
        S3Parameters p = MEMORY.parameters("b").endpoint("http://no-such-host.invalid:9000").build();
        try (S3Repository repo = S3Repository.builder(p).maxAttempts(1).build()) {
            assertThatThrownBy(repo::checkAccess).isInstanceOf(RepositoryAccessException.class)
                    .hasMessageStartingWith("unknown host no-such-host.invalid")
                    .hasMessageContaining("http://no-such-host.invalid:9000");
        }
    }

    // ---- objects and layout ----

    @Test
    void objectOperationsRoundTrip() throws IOException {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).path("p").build())) {
            assertThat(repo.stat("missing")).isEmpty();
            assertThatThrownBy(() -> repo.open("missing")).isInstanceOf(FileNotFoundException.class)
                    .hasMessageContaining("missing").hasMessageContaining("s3://" + bucket + "/p");
            byte[] content = "small object".getBytes(StandardCharsets.UTF_8);
            ObjectInfo put = repo.put("small", content, Map.of("Synapse-Backup-Format", "1"));
            assertThat(put.size()).isEqualTo(content.length);
            ObjectInfo stat = repo.stat("small").orElseThrow();
            assertThat(stat.key()).isEqualTo("small");
            assertThat(stat.size()).isEqualTo(content.length);
            assertThat(stat.metadata()).containsEntry("synapse-backup-format", "1");
            try (InputStream in = repo.open("small")) {
                assertThat(in.readAllBytes()).isEqualTo(content);
            }
            // A small object is one PutObject, not a multipart upload.
            assertThat(MEMORY.blobStore().blobMetadata(bucket, "p/small").eTag()).doesNotContain("-");
            repo.deleteObject("small");
            repo.deleteObject("small"); // missing is fine
            assertThat(repo.stat("small")).isEmpty();
        }
    }

    @Test
    void statOfAnUnreachableStoreThrowsRatherThanSayingMissing() {
        S3Parameters p = MEMORY.parameters("b").endpoint("http://127.0.0.1:1").build();
        try (S3Repository repo = S3Repository.builder(p).maxAttempts(1).build()) {
            assertThatThrownBy(() -> repo.stat("x")).isInstanceOf(IOException.class)
                    .hasMessageContaining("s3://b/x").hasMessageContaining("Connection refused");
            assertThatThrownBy(() -> repo.exists("backup-20250101000000000000"))
                    .hasMessageContaining("backup-20250101000000000000");
        }
    }

    @Test
    void listingPaginates() throws IOException {
        String bucket = newBucket(MEMORY);
        int count = 1500;
        try (S3Repository repo = S3Repository.builder(MEMORY.parameters(bucket).path("many").build())
                .listPageSize(100).build()) {
            for (int i = 0; i < count; i++) {
                MEMORY.putObject(bucket, String.format("many/obj-%05d", i), new byte[] {(byte) i}, Map.of());
            }
            List<String> keys = new ArrayList<>();
            AtomicLong bytes = new AtomicLong();
            repo.listObjects(o -> {
                keys.add(o.key());
                bytes.addAndGet(o.size());
            });
            assertThat(keys).hasSize(count).doesNotHaveDuplicates().allMatch(k -> k.startsWith("obj-"));
            assertThat(keys).contains("obj-00000", "obj-00999", "obj-01000", "obj-01499");
            assertThat(bytes.get()).isEqualTo(count);
        }
    }

    @Test
    void prefixesAreNormalised() throws IOException {
        Map<String, String> cases = Map.of("", "", "/a/", "a/", "a//b/", "a/b/");
        for (var c : cases.entrySet()) {
            String bucket = newBucket(MEMORY);
            // A stray object outside the prefix must not show up.
            MEMORY.putObject(bucket, "elsewhere/x", new byte[1], Map.of());
            try (S3Repository repo = repo(MEMORY.parameters(bucket).path(c.getKey()).build())) {
                String id = "backup-20250102030405060708";
                repo.put(id, new byte[] {1}, MARKER);
                repo.put(BackupId.manifestKey(id), new byte[] {2}, Map.of());
                assertThat(MEMORY.keys(bucket)).as("prefix %s", c.getKey())
                        .contains(c.getValue() + id, c.getValue() + id + ".manifest");
                assertThat(repo.exists(id)).isTrue();
                RepositoryListing listing = repo.listing();
                List<BackupEntry> list = listing.backups();
                // Without a prefix the stray object is under it, but it is not a backup.
                assertThat(list).extracting(BackupEntry::id).containsExactly(id);
                assertThat(listing.notBackups()).isEqualTo(c.getKey().isEmpty() ? 1 : 0);
                assertThat(list).filteredOn(e -> e.id().equals(id)).extracting(BackupEntry::status)
                        .containsExactly(BackupEntry.Status.COMPLETE);
                repo.delete(id);
                assertThat(repo.exists(id)).isFalse();
                assertThat(MEMORY.keys(bucket)).containsExactly("elsewhere/x");
            }
        }
    }

    @Test
    void listIsOldestFirstWithStatuses() throws Exception {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).path("l").build())) {
            // Names sort the other way round from their ages, so sorting by name would fail.
            // S3 times have second resolution: each put waits for the clock's next second.
            repo.put("29990101000000000000", new byte[10], Map.of());
            Await.clockPast(Instant.now().truncatedTo(ChronoUnit.SECONDS).plusSeconds(1));
            repo.put("backup-20250101000000000002", new byte[20], MARKER);
            Await.clockPast(Instant.now().truncatedTo(ChronoUnit.SECONDS).plusSeconds(1));
            repo.put("backup-20250101000000000001", new byte[30], MARKER);
            repo.put("backup-20250101000000000001.manifest", new byte[5], Map.of());
            repo.put("locks/lock", new byte[1], Map.of());

            List<BackupEntry> list = repo.list();
            assertThat(list).extracting(BackupEntry::id).containsExactly(
                    "29990101000000000000", "backup-20250101000000000002", "backup-20250101000000000001");
            assertThat(list).extracting(BackupEntry::status).containsExactly(
                    BackupEntry.Status.FOREIGN, BackupEntry.Status.UNFINISHED, BackupEntry.Status.COMPLETE);
            assertThat(list).extracting(BackupEntry::size).containsExactly(10L, 20L, 30L);
            assertThat(list.get(0).lastModified()).isBefore(list.get(1).lastModified());

            // From the listing alone: same backups and order, COMPLETE exact, no kind or parent.
            List<BackupEntry> quick = repo.listWithoutMetadata();
            assertThat(quick).extracting(BackupEntry::id).containsExactly(
                    "29990101000000000000", "backup-20250101000000000002", "backup-20250101000000000001");
            assertThat(quick).extracting(BackupEntry::status).containsExactly(
                    BackupEntry.Status.FOREIGN, BackupEntry.Status.FOREIGN, BackupEntry.Status.COMPLETE);
            assertThat(quick).extracting(BackupEntry::kind).containsOnlyNulls();
        }
    }

    @Test
    void deletingAMissingBackupSaysSo() {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).build())) {
            assertThatThrownBy(() -> repo.delete("backup-20250101000000000000"))
                    .isInstanceOf(BackupNotFoundException.class)
                    .hasMessage("backup-id backup-20250101000000000000 does not exist");
        }
    }

    @Test
    void putIfAbsentHasExactlyOneWinnerInARace() throws Exception {
        String bucket = newBucket(MEMORY);
        int racers = 8;
        try (S3Repository repo = repo(MEMORY.parameters(bucket).build())) {
            java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
            List<java.util.concurrent.Future<Boolean>> results = new ArrayList<>();
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(racers);
            try {
                for (int i = 0; i < racers; i++) {
                    byte[] content = ("racer " + i).getBytes(StandardCharsets.UTF_8);
                    results.add(pool.submit(() -> {
                        start.await();
                        return repo.putIfAbsent("locks/race", content, Map.of());
                    }));
                }
                start.countDown();
                int winner = -1;
                for (int i = 0; i < racers; i++) {
                    if (results.get(i).get()) {
                        assertThat(winner).as("second winner %d", i).isEqualTo(-1);
                        winner = i;
                    }
                }
                assertThat(winner).isNotEqualTo(-1);
                try (InputStream in = repo.open("locks/race")) {
                    assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("racer " + winner);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void sessionTokenIsSentAlong() {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).sessionToken(Secret.of("token-value")).build())) {
            repo.checkAccess();
        }
    }

    @Test
    void putIfAbsentCreatesOnlyOnce() throws IOException {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).path("x").build())) {
            byte[] first = "first".getBytes(StandardCharsets.UTF_8);
            assertThat(repo.putIfAbsent("locks/lock", first, Map.of("owner", "a"))).isTrue();
            assertThat(repo.putIfAbsent("locks/lock", "second".getBytes(StandardCharsets.UTF_8), Map.of())).isFalse();
            try (InputStream in = repo.open("locks/lock")) {
                assertThat(in.readAllBytes()).isEqualTo(first);
            }
            assertThat(repo.stat("locks/lock").orElseThrow().metadata()).containsEntry("owner", "a");
        }
    }

    // ---- multipart ----

    @Test
    void partSizeKeepsObjectsUnderTenThousandParts() {
        S3Parameters p = MEMORY.parameters("b").build();
        try (S3Repository repo = repo(p); S3Repository fixed = S3Repository.builder(p).partSize(8 * MIB).build()) {
            assertThat(repo.partSizeFor(-1)).isEqualTo(16 * MIB);
            assertThat(repo.partSizeFor(0)).isEqualTo(5 * MIB);
            assertThat(repo.partSizeFor(1000 * MIB)).isEqualTo(5 * MIB);
            long big = 400L * 1024 * MIB; // 400 GiB
            assertThat(repo.partSizeFor(big)).isGreaterThanOrEqualTo(big / S3Repository.PLANNED_PARTS)
                    .isEqualTo(52 * MIB);
            assertThat(fixed.partSizeFor(40 * MIB)).isEqualTo(8 * MIB);
        }
        assertThatThrownBy(() -> S3Repository.builder(p).partSize(MIB)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void partsInFlightFillTheBufferBudgetUnlessConfigured() {
        S3ObjectWriter.Uploads automatic = new S3ObjectWriter.Uploads(null, 0, Duration.ZERO, 4096 * MIB);
        assertThat(automatic.partsInFlight(5 * MIB)).isEqualTo(7); // 8 buffers of 5 MiB: the 40 MiB budget
        assertThat(automatic.partsInFlight(8 * MIB)).isEqualTo(4);
        assertThat(automatic.partsInFlight(52 * MIB)).isEqualTo(4); // never fewer than four, where the heap allows
        assertThat(S3ObjectWriter.Uploads.MAX_AUTOMATIC_PARALLELISM).isEqualTo(7);
        assertThat(new S3ObjectWriter.Uploads(null, 3, Duration.ZERO, 4096 * MIB).partsInFlight(5 * MIB)).isEqualTo(3);
    }

    @Test
    void theLargestPartsFlyFewerAtOnceAndAHeapTooSmallForTwoIsRefused() throws IOException {
        long heap = 198 * MIB; // about what -Xmx200m -Xmn16m gives Runtime.maxMemory
        S3ObjectWriter.Uploads automatic = new S3ObjectWriter.Uploads(null, 0, Duration.ZERO, heap);
        assertThat(automatic.partsInFlight(5 * MIB)).isEqualTo(7);
        assertThat(automatic.partsInFlight(16 * MIB)).isEqualTo(4);
        assertThat(automatic.partsInFlight(32 * MIB)).isEqualTo(2); // 3 buffers of 32 MiB in 99 MiB
        assertThat(automatic.partsInFlight(48 * MIB)).isEqualTo(1);
        automatic.checkHeap("backup-x", 48 * MIB);
        // 1 TB in 10,000 parts: 120 MiB each
        S3Parameters p = MEMORY.parameters("b").build();
        try (S3Repository repo = repo(p)) {
            long part = repo.partSizeFor(1_000_000_000_000L);
            assertThat(part).isEqualTo(120 * MIB);
            assertThatThrownBy(() -> automatic.checkHeap("backup-x", part)).isInstanceOf(IOException.class)
                    .hasMessageContaining("backup-x").hasMessageContaining("parts of 120 MiB")
                    .hasMessageContaining("heap of 198 MiB").hasMessageContaining("at least 604 MiB")
                    .hasMessageContaining("SYNAPSE_BACKUP_JAVA_OPTS");
            new S3ObjectWriter.Uploads(null, 0, Duration.ZERO, 604 * MIB).checkHeap("backup-x", part);
        }
        // a configured parallelism is the caller's to size
        new S3ObjectWriter.Uploads(null, 4, Duration.ZERO, heap).checkHeap("backup-x", 120 * MIB);
    }

    @Test
    void anUploadWhosePartsDoNotFitTwiceInTheHeapStopsBeforeItsFirstPartWhileASmallObjectGoes() throws IOException {
        String bucket = newBucket(DISK);
        // Half of a 16 MiB heap holds one 5 MiB buffer, not the two a multipart upload needs.
        try (S3Repository repo = S3Repository.builder(DISK.parameters(bucket).build()).partSize(5 * MIB)
                .maxHeap(16 * MIB).build()) {
            byte[] mib = new byte[(int) MIB];
            // Expected large (an incremental is sized by its parent), but smaller than one part: one PutObject.
            try (ObjectWriter w = repo.create("small", 100 * MIB, MARKER)) {
                w.write(mib);
                w.commit();
            }
            assertThat(repo.stat("small")).isPresent();
            assertThatThrownBy(() -> {
                try (ObjectWriter w = repo.create("big", 100 * MIB, MARKER)) {
                    for (int i = 0; i < 6; i++) {
                        w.write(mib);
                    }
                    w.commit();
                }
            }).isInstanceOf(IOException.class).hasMessageContaining("cannot upload big")
                    .hasMessageContaining("parts of 5 MiB").hasMessageContaining("heap of 16 MiB");
            assertThat(repo.stat("big")).isEmpty();
            assertThat(DISK.incompleteUploads(bucket)).isEmpty();
        }
    }

    @Test
    void partsGrowOnlyAfterTheEstimateIsExceeded() {
        long base = 8 * MIB;
        assertThat(S3ObjectWriter.partSize(base, 9_999, 0)).isEqualTo(base);
        assertThat(S3ObjectWriter.partSize(base, 4_000, 5_001)).isEqualTo(base);
        assertThat(S3ObjectWriter.partSize(base, 5_001, 5_001)).isEqualTo(base);
        assertThat(S3ObjectWriter.partSize(base, 5_800, 5_001)).isEqualTo(base);
        assertThat(S3ObjectWriter.partSize(base, 5_801, 5_001)).isEqualTo(2 * base);
        assertThat(S3ObjectWriter.partSize(base, 10_000, 5_001)).isEqualTo(64 * base);
        // Unknown size (overrun from part 1) at 16 MiB: 10,000 parts hold S3's 5 TiB maximum,
        // and no part buffer exceeds 1 GiB.
        long total = 0;
        long previous = 0;
        for (int part = 1; part <= S3ObjectWriter.MAX_PARTS; part++) {
            long size = S3ObjectWriter.partSize(16 * MIB, part, 1);
            assertThat(size).isGreaterThanOrEqualTo(previous).isLessThanOrEqualTo(1024 * MIB);
            previous = size;
            total += size;
        }
        assertThat(total).isGreaterThanOrEqualTo(5L * 1024 * 1024 * MIB);
    }

    @Test
    void multipartUploadRoundTripsInMemory() throws Exception {
        multipartRoundTrip(MEMORY, 40 * MIB + 12345, 40 * MIB + 12345);
    }

    @Test
    void multipartUploadRoundTripsOnDiskWithUnknownAndUnderestimatedSize() throws Exception {
        multipartRoundTrip(DISK, 40 * MIB + 1, -1);
        multipartRoundTrip(DISK, 20 * MIB, 1024);
    }

    private static void multipartRoundTrip(S3ProxyServer server, long size, long expected) throws Exception {
        String bucket = newBucket(server);
        try (S3Repository repo = S3Repository.builder(server.parameters(bucket).path("mp").build())
                .partSize(8 * MIB).parallelism(3).build()) {
            MessageDigest written = sha256();
            ObjectInfo info;
            int peakBuffers;
            try (ObjectWriter w = repo.create("big", expected, MARKER)) {
                Random random = new Random(size);
                byte[] chunk = new byte[1 << 20];
                long remaining = size;
                while (remaining > 0) {
                    // Odd chunk sizes, so writes straddle part boundaries.
                    int n = (int) Math.min(remaining, 1 + random.nextInt(chunk.length));
                    random.nextBytes(chunk);
                    w.write(chunk, 0, n);
                    written.update(chunk, 0, n);
                    remaining -= n;
                }
                info = w.commit();
                peakBuffers = ((S3ObjectWriter) w).peakBuffers();
            }
            // At most three parts in flight plus the one being filled (fewer if uploads keep up).
            assertThat(peakBuffers).isBetween(2, 4);
            assertThat(info.size()).isEqualTo(size);
            assertThat(repo.incompleteUploads()).isEmpty();
            assertThat(server.incompleteUploads(bucket)).isEmpty();
            ObjectInfo stat = repo.stat("big").orElseThrow();
            assertThat(stat.size()).isEqualTo(size);
            assertThat(stat.metadata()).containsEntry(BackupId.FORMAT_METADATA, "1");
            assertThat(server.blobStore().blobMetadata(bucket, "mp/big").eTag()).contains("-");
            MessageDigest read = sha256();
            try (InputStream in = repo.open("big")) {
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) > 0; ) {
                    read.update(buf, 0, n);
                }
            }
            assertThat(HexFormat.of().formatHex(read.digest())).isEqualTo(HexFormat.of().formatHex(written.digest()));
        }
    }

    @Test
    void failureInTheWritingCodeAbortsTheUpload() throws Exception {
        String bucket = newBucket(DISK);
        try (S3Repository repo = S3Repository.builder(DISK.parameters(bucket).build())
                .partSize(5 * MIB).parallelism(2).build()) {
            assertThatThrownBy(() -> {
                try (ObjectWriter w = repo.create("doomed", -1, MARKER)) {
                    byte[] mib = new byte[(int) MIB];
                    for (int i = 0; i < 18; i++) {
                        w.write(mib);
                    }
                    assertThat(DISK.incompleteUploads(bucket)).containsExactly("doomed");
                    throw new IOException("source file vanished");
                }
            }).hasMessage("source file vanished");
            assertThat(repo.stat("doomed")).isEmpty();
            assertThat(repo.incompleteUploads()).isEmpty();
            assertThat(DISK.incompleteUploads(bucket)).isEmpty();
            assertThat(DISK.keys(bucket)).isEmpty();
        }
    }

    @Test
    void staleUploadCleanUpAbortsOnlyUploadsOfBackups() throws Exception {
        String bucket = newBucket(DISK);
        try (var admin = software.amazon.awssdk.services.s3.S3Client.builder()
                .endpointOverride(DISK.endpoint()).forcePathStyle(true)
                .region(software.amazon.awssdk.regions.Region.US_EAST_1)
                .credentialsProvider(software.amazon.awssdk.auth.credentials.StaticCredentialsProvider.create(
                        software.amazon.awssdk.auth.credentials.AwsBasicCredentials.create(DISK.accessKey(), DISK.secretKey())))
                .build()) {
            for (String key : List.of("prod/backup-20250101000000000000", "prod/backup-20250101000000000000.manifest",
                    "prod/0junk/big-file", "prod/other-tool.bin")) {
                admin.createMultipartUpload(b -> b.bucket(bucket).key(key));
            }
        }
        try (S3Repository repo = S3Repository.builder(DISK.parameters(bucket).path("prod").build()).build()) {
            // Every upload is older than zero: only ours may go (SPEC §3: no command deletes what is not a backup).
            assertThat(repo.removeStaleUploads(java.time.Duration.ZERO)).isEqualTo(2);
        }
        assertThat(DISK.incompleteUploads(bucket)).containsExactly("prod/0junk/big-file", "prod/other-tool.bin");
    }

    @Test
    void serverCutMidUploadFailsAndLeavesNoObject() throws Exception {
        String bucket = newBucket(DISK);
        try (S3Repository repo = S3Repository.builder(DISK.parameters(bucket).build())
                .partSize(5 * MIB).parallelism(2).maxAttempts(2).abortPatience(java.time.Duration.ofSeconds(1)).build()) {
            ObjectWriter w = repo.create("cut", -1, MARKER);
            byte[] mib = new byte[(int) MIB];
            for (int i = 0; i < 17; i++) {
                w.write(mib);
            }
            DISK.stop();
            try {
                assertThatThrownBy(() -> {
                    for (int i = 0; i < 40; i++) {
                        w.write(mib);
                    }
                    w.commit();
                }).isInstanceOf(IOException.class).hasMessageContaining("cut");
                w.close();
            } finally {
                DISK.start();
            }
            assertThat(repo.stat("cut")).isEmpty();
            // The abort could not reach the stopped server: the upload is an orphan until the
            // next run cleans up.
            assertThat(repo.incompleteUploads()).containsExactly("cut");
            // What create does at its start: only day-old leftovers go, not this fresh one.
            assertThat(repo.removeStaleUploads(java.time.Duration.ofDays(1))).isZero();
            assertThat(repo.incompleteUploads()).containsExactly("cut");
            assertThat(repo.abortIncompleteUploads()).isEqualTo(1);
            assertThat(repo.incompleteUploads()).isEmpty();
            assertThat(DISK.incompleteUploads(bucket)).isEmpty();
            assertThat(DISK.keys(bucket)).isEmpty();
        }
    }

    @Test
    void interruptingTheWriterAbortsTheUpload() throws Exception {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = S3Repository.builder(MEMORY.parameters(bucket).build())
                .partSize(5 * MIB).parallelism(1).build()) {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicLong writtenBytes = new AtomicLong();
            Thread writer = new Thread(() -> {
                try (ObjectWriter w = repo.create("interrupted", -1, MARKER)) {
                    byte[] chunk = new byte[64 * 1024];
                    while (true) {
                        w.write(chunk);
                        writtenBytes.addAndGet(chunk.length);
                    }
                } catch (Throwable t) {
                    thrown.set(t);
                }
            });
            writer.start();
            Await.until("12 MiB written", java.time.Duration.ofSeconds(60),
                    () -> writtenBytes.get() >= 12 * MIB || !writer.isAlive());
            assertThat(MEMORY.incompleteUploads(bucket)).containsExactly("interrupted");
            writer.interrupt();
            writer.join(20_000);
            assertThat(writer.isAlive()).isFalse();
            assertThat(thrown.get()).isInstanceOf(InterruptedIOException.class).hasMessageContaining("interrupted");
            assertThat(repo.stat("interrupted")).isEmpty();
            assertThat(repo.incompleteUploads()).isEmpty();
            assertThat(MEMORY.incompleteUploads(bucket)).isEmpty();
        }
    }

    @Test
    void writerRefusesUseAfterCommit() throws IOException {
        String bucket = newBucket(MEMORY);
        try (S3Repository repo = repo(MEMORY.parameters(bucket).build())) {
            ObjectWriter w = repo.create("once", 3, Map.of());
            w.write(new byte[] {1, 2, 3});
            w.commit();
            w.close(); // no-op after commit
            assertThatThrownBy(() -> w.write(4)).isInstanceOf(IOException.class).hasMessageContaining("once");
            assertThat(repo.stat("once").orElseThrow().size()).isEqualTo(3);
        }
    }

    private static MessageDigest sha256() throws NoSuchAlgorithmException {
        return MessageDigest.getInstance("SHA-256");
    }
}
