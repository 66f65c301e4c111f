package dev.synapsebackup.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.config.ObjectLock;
import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.manifest.ManifestDependencyReader;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.S3MockStore;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.services.s3.model.GetObjectRetentionResponse;
import software.amazon.awssdk.services.s3.model.ObjectLockRetentionMode;

/**
 * S3 Object Lock against Adobe S3Mock 4.11.0, which implements buckets with Object Lock enabled
 * (GetObjectLockConfiguration), PutObjectRetention and GetObjectRetention,
 * but ignores the lock headers of PutObject and CreateMultipartUpload and does not refuse to
 * delete a retained object. So the tests assert on the headers the tool sends (through a
 * recording proxy), on the dates the store reports, and on what prune and delete do and say.
 */
@Tag("slow")
class ObjectLockTest {
    static final String A = "backup-20240501000000000000";
    static final String B = "backup-20240502000000000000";
    static final String C = "backup-20240503000000000000";
    private static final Map<String, String> MARKER = Map.of(BackupId.FORMAT_METADATA, "1");
    private static final AtomicInteger BUCKETS = new AtomicInteger();

    static S3MockStore store;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        store = new S3MockStore();
        store.start();
    }

    @AfterAll
    static void stop() {
        if (store != null) {
            store.close();
        }
    }

    private static String lockedBucket() {
        String bucket = "locked-" + BUCKETS.incrementAndGet();
        store.newObjectLockSpace(bucket);
        return bucket;
    }

    private static String plainBucket() {
        String bucket = "plain-" + BUCKETS.incrementAndGet();
        store.newSpace(bucket);
        return bucket;
    }

    private static S3Parameters.Builder parameters(String bucket, URI endpoint) {
        String[] keys = store.credentials();
        return S3Parameters.builder().bucket(bucket).path("synapse").endpoint(endpoint.toString()).region("us-east-1")
                .uriStyle("path").accessKey(keys[0]).secretKey(Secret.of(keys[1]));
    }

    private static S3Repository repo(String bucket, ObjectLock lock, Clock clock) {
        return S3Repository.builder(parameters(bucket, store.pathStyleEndpoint()).objectLock(lock).build())
                .clock(clock).build();
    }

    private static GetObjectRetentionResponse retention(String bucket, String key) {
        return store.admin().getObjectRetention(b -> b.bucket(bucket).key("synapse/" + key));
    }

    private static ManifestDependencyReader dependencies(S3Repository repo) {
        return new ManifestDependencyReader(repo, () -> Secret.of(FakeBackups.PASSPHRASE), null);
    }

    private static List<String> ids(S3Repository repo) {
        return repo.list().stream().map(BackupEntry::id).toList();
    }

    /** A config file with the store's bucket, path, endpoint and {@code extraS3} lines in the s3 block. */
    private Path config(String bucket, String extraS3) throws IOException {
        Path f = tmp.resolve("config-" + bucket + ".yaml");
        Files.writeString(f, "s3:\n  bucket: " + bucket + "\n  path: synapse\n  endpoint: " + store.pathStyleEndpoint()
                + "\n  region: us-east-1\n  s3-uri-style: path\n" + extraS3
                + "passphrase-file: " + passphraseFile() + "\n");
        return f;
    }

    private Path passphraseFile() throws IOException {
        Path f = tmp.resolve("passphrase");
        if (!Files.exists(f)) {
            Files.writeString(f, FakeBackups.PASSPHRASE + "\n");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        }
        return f;
    }

    private static Cli cli() {
        String[] keys = store.credentials();
        return new Cli().env("AWS_ACCESS_KEY_ID", keys[0]).env("AWS_SECRET_ACCESS_KEY", keys[1]);
    }

    /**
     * Data objects (one PutObject, one multipart upload) and manifests go out with the lock
     * headers and a Content-MD5 on every PutObject and UploadPart (S3Mock checks it); the lock
     * objects without retention. The store then reports each backup object retained until the
     * upload's start plus {@code retain}, in the configured mode.
     */
    @Test
    void backupObjectsAreWrittenRetainedAndLocksAreNot() throws Exception {
        String bucket = lockedBucket();
        ObjectLock lock = new ObjectLock(ObjectLock.Mode.GOVERNANCE, Duration.ofDays(2));
        Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        try (FaultProxy proxy = new FaultProxy(store.httpPort());
             S3Repository repo = S3Repository.builder(parameters(bucket, proxy.endpoint()).objectLock(lock).build())
                     .partSize(5L << 20).build()) {
            new FakeBackups(repo).complete(A);
            byte[] big = new byte[12 << 20];
            new java.util.Random(1).nextBytes(big);
            try (ObjectWriter w = repo.create(B, big.length, MARKER)) {
                w.write(big);
                w.commit();
            }
            repo.put("locks/exclusive", "{}".getBytes(StandardCharsets.UTF_8), Map.of());
            Instant after = Instant.now();

            List<FaultProxy.Request> requests = new ArrayList<>(proxy.requests());
            String path = "/" + bucket + "/synapse/";
            FaultProxy.Request putA = only(requests, "PUT", path + A);
            FaultProxy.Request putManifest = only(requests, "PUT", path + A + ".manifest");
            FaultProxy.Request createB = only(requests, "POST", path + B + "?uploads");
            for (FaultProxy.Request r : List.of(putA, putManifest, createB)) {
                assertThat(r.header("x-amz-object-lock-mode")).as(r.target()).isEqualTo("GOVERNANCE");
                String header = r.header("x-amz-object-lock-retain-until-date");
                Instant until = Instant.parse(header);
                assertThat(until).as(r.target()).isBetween(before.plus(Duration.ofDays(2)),
                        after.plus(Duration.ofDays(2)).plusSeconds(1));
                // Whole seconds: some stores refuse dates finer than milliseconds.
                assertThat(until.getNano()).as(header).isZero();
            }
            assertThat(putA.header("content-md5")).isEqualTo(md5(("data of " + A).getBytes(StandardCharsets.UTF_8)));
            assertThat(putManifest.header("content-md5")).isNotNull();
            List<FaultProxy.Request> parts = requests.stream().filter(FaultProxy.Request::isUploadPart).toList();
            assertThat(parts).hasSize(3);
            assertThat(parts).allSatisfy(p -> assertThat(p.header("content-md5")).as(p.target()).isNotNull());
            assertThat(parts.stream().filter(p -> p.partNumber() == 1).findFirst().orElseThrow().header("content-md5"))
                    .isEqualTo(md5(java.util.Arrays.copyOf(big, 5 << 20)));
            FaultProxy.Request putLock = only(requests, "PUT", path + "locks/exclusive");
            assertThat(putLock.header("x-amz-object-lock-mode")).isNull();
            assertThat(putLock.header("x-amz-object-lock-retain-until-date")).isNull();
        }

        for (String key : List.of(A, A + ".manifest", B)) {
            GetObjectRetentionResponse r = retention(bucket, key);
            assertThat(r.retention().mode()).as(key).isEqualTo(ObjectLockRetentionMode.GOVERNANCE);
            assertThat(r.retention().retainUntilDate()).as(key)
                    .isBetween(before.plus(Duration.ofDays(2)), Instant.now().plus(Duration.ofDays(2)).plusSeconds(1));
        }
        assertThatThrownBy(() -> retention(bucket, "locks/exclusive")).isInstanceOf(AwsServiceException.class)
                .satisfies(e -> assertThat(((AwsServiceException) e).statusCode()).isEqualTo(404));
        try (S3Repository reader = repo(bucket, null, Clock.systemUTC())) {
            assertThat(reader.retainedUntil(A)).contains(retention(bucket, A + ".manifest").retention().retainUntilDate());
            assertThat(reader.objectRetainedUntil("locks/exclusive")).isEmpty();
        }
    }

    /** A store that keeps the retention neither from the headers nor from PutObjectRetention fails the write. */
    @Test
    void aStoreThatKeepsNoRetentionFailsTheWrite() throws Exception {
        String bucket = lockedBucket();
        try (FaultProxy proxy = new FaultProxy(store.httpPort());
             S3Repository repo = S3Repository.builder(parameters(bucket, proxy.endpoint())
                     .objectLock(new ObjectLock(ObjectLock.Mode.GOVERNANCE, Duration.ofDays(1))).build()).build()) {
            proxy.inject(r -> r.method().equals("PUT") && r.target().endsWith("?retention"), 1,
                    new FaultProxy.Status(501, "NotImplemented"));
            assertThatThrownBy(() -> repo.put(A, new byte[] {1, 2, 3}, MARKER)).isInstanceOf(IOException.class)
                    .hasMessage("the store did not keep the Object Lock retention (s3.object-lock) of " + A
                            + ": cannot set the retention of s3://" + bucket + "/synapse/" + A + ": HTTP 501 NotImplemented");
        }
    }

    /**
     * The real create, full then incremental, into an Object Lock bucket: both objects of both
     * backups are retained for the configured time, and the backups verify.
     */
    @Test
    void createWritesRetainedFullAndIncrementalBackups() throws Exception {
        String bucket = lockedBucket();
        Path yaml = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(3, 4_000_000));
        String cfg = config(bucket, "  object-lock:\n    mode: governance\n    retain: 3d\n").toString();
        Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Cli.Result full = cli().run("create", "--quiet", "--config", cfg, "--synapse-config", yaml.toString());
        assertThat(full.exitCode()).as(full.toString()).isZero();
        Cli.Result incremental = cli().run("create", "--quiet", "--config", cfg, "--synapse-config", yaml.toString());
        assertThat(incremental.exitCode()).as(incremental.toString()).isZero();
        Instant after = Instant.now();
        String fullId = full.lastLine();
        String incrementalId = incremental.lastLine();
        try (S3Repository repo = repo(bucket, null, Clock.systemUTC())) {
            assertThat(repo.list()).extracting(BackupEntry::id, BackupEntry::kind)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(fullId, "full"),
                            org.assertj.core.groups.Tuple.tuple(incrementalId, "incremental"));
        }
        for (String key : List.of(fullId, fullId + ".manifest", incrementalId, incrementalId + ".manifest")) {
            GetObjectRetentionResponse r = retention(bucket, key);
            assertThat(r.retention().mode()).as(key).isEqualTo(ObjectLockRetentionMode.GOVERNANCE);
            assertThat(r.retention().retainUntilDate()).as(key)
                    .isBetween(before.plus(Duration.ofDays(3)), after.plus(Duration.ofDays(3)).plusSeconds(1));
        }
        Cli.Result verify = cli().run("verify", incrementalId, "--config", cfg);
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
    }

    private static FaultProxy.Request only(List<FaultProxy.Request> requests, String method, String target) {
        List<FaultProxy.Request> matching = requests.stream()
                .filter(r -> r.method().equals(method) && r.target().equals(target)).toList();
        assertThat(matching).as(method + " " + target + " among "
                + requests.stream().map(r -> r.method() + " " + r.target()).toList()).hasSize(1);
        return matching.get(0);
    }

    private static String md5(byte[] data) throws Exception {
        return Base64.getEncoder().encodeToString(java.security.MessageDigest.getInstance("MD5").digest(data));
    }

    /**
     * A retained incremental keeps the parent it needs, which is not retained itself; both go
     * once the retention has ended. The prune that keeps them succeeds and says until when.
     */
    @Test
    void pruneKeepsRetainedBackupsAndWhatTheyNeedUntilTheRetentionEnds() throws Exception {
        String bucket = lockedBucket();
        try (S3Repository plain = repo(bucket, null, Clock.systemUTC())) {
            new FakeBackups(plain).complete(A);
        }
        try (S3Repository locked = repo(bucket, new ObjectLock(ObjectLock.Mode.GOVERNANCE, Duration.ofDays(1)),
                Clock.systemUTC())) {
            new FakeBackups(locked).complete(B, A);
        }
        try (S3Repository plain = repo(bucket, null, Clock.systemUTC())) {
            new FakeBackups(plain).complete(C);
        }
        Instant until = retention(bucket, B + ".manifest").retention().retainUntilDate();

        Cli.Result r = cli().run("prune", "--keep-last", "1", "--config", config(bucket, "").toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("keep    " + A + "  2024-05-01T00:00:00Z  needed by " + B + " (kept)");
        assertThat(r.stdout()).contains("keep    " + B + "  2024-05-02T00:00:00Z  kept: under retention until " + until
                + " (S3 Object Lock)");
        assertThat(r.stdout()).contains("kept 3 (1 under retention), removed 0 of 3 backups");

        Cli.Result json = cli().run("prune", "--keep-last", "1", "--dry-run", "--json",
                "--config", config(bucket, "").toString());
        assertThat(json.exitCode()).as(json.toString()).isZero();
        JsonNode doc = new ObjectMapper().readTree(json.stdout());
        assertThat(doc.get("retained").size()).isEqualTo(1);
        assertThat(doc.get("retained").get(0).get("backup-id").asText()).isEqualTo(B);
        assertThat(Instant.parse(doc.get("retained").get(0).get("retained-until").asText()))
                .isEqualTo(until.truncatedTo(ChronoUnit.SECONDS));

        // Two days on, the retention has ended: the same rule removes both.
        Clock later = Clock.offset(Clock.systemUTC(), Duration.ofDays(2));
        try (S3Repository repo = repo(bucket, null, later)) {
            Pruner.PruneResult result = Pruner.prune(repo, KeepPolicy.keepLast(1), false, dependencies(repo), later);
            assertThat(result.plan().retained()).isEmpty();
            assertThat(result.deleted()).containsExactly(B, A);
            assertThat(ids(repo)).containsExactly(C);
        }
    }

    /**
     * An explicit delete of a retained backup, or of one that a retained backup needs, exits 1
     * naming the retained one and until when, and deletes nothing; once the retention has ended
     * the same delete succeeds.
     */
    @Test
    void deleteRefusesRetainedBackupsAndDeletesThemOnceTheRetentionEnds() throws Exception {
        String bucket = lockedBucket();
        try (S3Repository plain = repo(bucket, null, Clock.systemUTC())) {
            new FakeBackups(plain).complete(A);
        }
        try (S3Repository locked = repo(bucket, new ObjectLock(ObjectLock.Mode.COMPLIANCE, Duration.ofHours(12)),
                Clock.systemUTC())) {
            new FakeBackups(locked).complete(B, A);
        }
        assertThat(retention(bucket, B).retention().mode()).isEqualTo(ObjectLockRetentionMode.COMPLIANCE);
        Instant until = retention(bucket, B + ".manifest").retention().retainUntilDate();
        String cfg = config(bucket, "  object-lock:\n    mode: compliance\n    retain: 1d\n").toString();

        Cli.Result r = cli().run("delete", B, "--config", cfg);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.stderr()).contains("backup " + B + " is under retention until " + until)
                .contains("nothing was deleted").doesNotContain("Exception");

        Cli.Result forced = cli().run("delete", A, "--force", "--json", "--config", cfg);
        assertThat(forced.exitCode()).as(forced.toString()).isEqualTo(1);
        JsonNode doc = new ObjectMapper().readTree(forced.stdout());
        assertThat(doc.get("deleted").size()).isZero();
        assertThat(doc.get("retained").get(0).get("backup-id").asText()).isEqualTo(B);

        try (S3Repository repo = repo(bucket, null, Clock.systemUTC())) {
            assertThat(ids(repo)).containsExactly(A, B);
        }

        Clock later = Clock.offset(Clock.systemUTC(), Duration.ofDays(1));
        try (S3Repository repo = repo(bucket, null, later)) {
            Deleter.DeleteResult result = Deleter.delete(repo, A, true, dependencies(repo), later, s -> { });
            assertThat(result.deleted()).containsExactly(B, A);
            assertThat(ids(repo)).isEmpty();
        }
    }

    /**
     * A store that refuses a delete (as one may for a retained object, or a policy without
     * s3:DeleteObject) gets one line that says what is left, never a stack trace: nothing, when
     * the manifest's delete is refused; an unfinished backup, when only the data object's is.
     */
    @Test
    void aRefusedDeleteSaysWhatIsLeft() throws Exception {
        String bucket = plainBucket();
        try (S3Repository plain = repo(bucket, null, Clock.systemUTC())) {
            new FakeBackups(plain).complete(A).complete(B);
        }
        try (FaultProxy proxy = new FaultProxy(store.httpPort())) {
            Path cfg = tmp.resolve("proxied.yaml");
            Files.writeString(cfg, Files.readString(config(bucket, "")).replace(store.pathStyleEndpoint().toString(),
                    proxy.endpoint().toString()));
            proxy.inject(r -> r.method().equals("DELETE") && r.target().endsWith("/synapse/" + A + ".manifest"), 1,
                    new FaultProxy.Status(403, "AccessDenied"));
            Cli.Result r = cli().run("delete", A, "--config", cfg.toString());
            assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
            assertThat(r.stderr().strip()).isEqualTo("error: cannot delete " + A + " from s3://" + bucket
                    + "/synapse (nothing was deleted): cannot delete s3://" + bucket + "/synapse/" + A
                    + ".manifest: HTTP 403 AccessDenied");

            proxy.inject(r2 -> r2.method().equals("DELETE") && r2.target().endsWith("/synapse/" + B), 1,
                    new FaultProxy.Status(403, "AccessDenied"));
            Cli.Result r2 = cli().run("delete", B, "--config", cfg.toString());
            assertThat(r2.exitCode()).as(r2.toString()).isEqualTo(1);
            assertThat(r2.stderr()).contains("(its manifest was deleted, its data object was not: it is now an"
                    + " unfinished backup, which prune removes)").doesNotContain("Exception").doesNotContain("\tat ");
        }
        try (S3Repository repo = repo(bucket, null, Clock.systemUTC())) {
            assertThat(repo.list()).extracting(BackupEntry::id, BackupEntry::status).containsExactly(
                    org.assertj.core.groups.Tuple.tuple(A, BackupEntry.Status.COMPLETE),
                    org.assertj.core.groups.Tuple.tuple(B, BackupEntry.Status.UNFINISHED));
        }
    }

    /** A server-side copy of S3-held media into a backup's media/ prefix is retained like the backup. */
    @Test
    void mediaCopiesAreRetainedLikeTheirBackup() throws Exception {
        String bucket = lockedBucket();
        String media = plainBucket();
        byte[] content = "a medium".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        store.admin().putObject(b -> b.bucket(media).key("synapse/local_content/ab/cd/ef"),
                software.amazon.awssdk.core.sync.RequestBody.fromBytes(content));
        String copyKey = "media/" + A + "/" + media + "/local_content/ab/cd/ef";
        Instant before = Instant.now();
        try (S3Repository locked = repo(bucket, new ObjectLock(ObjectLock.Mode.GOVERNANCE, Duration.ofDays(2)),
                Clock.systemUTC());
             dev.synapsebackup.repository.S3MediaBucket source = new dev.synapsebackup.repository.S3MediaBucket(
                     parameters(media, store.pathStyleEndpoint()).build(), null, 2, 1000)) {
            locked.copyFrom(source, "synapse/local_content/ab/cd/ef", content.length, copyKey, Long.MAX_VALUE);
            locked.copyFrom(source, "synapse/local_content/ab/cd/ef", content.length, copyKey + "-parts", 1);
        }
        for (String key : List.of(copyKey, copyKey + "-parts")) {
            GetObjectRetentionResponse r = retention(bucket, key);
            assertThat(r.retention().mode()).as(key).isEqualTo(ObjectLockRetentionMode.GOVERNANCE);
            assertThat(r.retention().retainUntilDate()).as(key).isBetween(before.plus(Duration.ofDays(2)),
                    Instant.now().plus(Duration.ofDays(2)).plusSeconds(1));
        }
    }

    /** check tells whether the bucket has Object Lock, and fails with one line when it is configured but absent. */
    @Test
    void checkReportsObjectLockAndRefusesABucketWithoutIt() throws Exception {
        String locked = lockedBucket();
        String lockBlock = "  object-lock:\n    mode: governance\n    retain: 30d\n";
        Cli.Result ok = cli().run("check", "--json", "--config", config(locked, lockBlock).toString());
        JsonNode doc = new ObjectMapper().readTree(ok.stdout());
        JsonNode lockCheck = null;
        for (JsonNode c : doc.get("checks")) {
            if (c.get("check").asText().equals("object-lock")) {
                lockCheck = c;
            }
        }
        assertThat(lockCheck).as(ok.toString()).isNotNull();
        assertThat(lockCheck.get("ok").asBoolean()).isTrue();
        assertThat(lockCheck.get("detail").asText()).isEqualTo("Object Lock is enabled on bucket \"" + locked
                + "\"; new backups are retained in governance mode for 30d (s3.object-lock)");
        assertThat(doc.get("checks").get(0).get("ok").asBoolean()).isTrue();

        String plain = plainBucket();
        Cli.Result bad = cli().run("check", "--config", config(plain, lockBlock).toString());
        assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(2);
        List<String> repositoryLines = bad.stderr().lines().filter(l -> l.startsWith("Backup: ")).toList();
        // S3Mock answers 400 InvalidRequest for a bucket without Object Lock (AWS: 404).
        assertThat(repositoryLines).containsExactly("Backup: S3 configuration is invalid (\"s3.object-lock\" is set but"
                + " bucket \"" + plain + "\" does not have Object Lock enabled (GetObjectLockConfiguration: HTTP 400"
                + " InvalidRequest): use a bucket created with Object Lock enabled, or remove \"s3.object-lock\")");

        Cli.Result create = cli().run("prune", "--keep-last", "1", "--config", config(plain, lockBlock).toString());
        assertThat(create.exitCode()).as(create.toString()).isEqualTo(2);

        // Without s3.object-lock, a bucket without it is no problem.
        Cli.Result plainCheck = cli().run("check", "--json", "--config", config(plain, "").toString());
        JsonNode plainDoc = new ObjectMapper().readTree(plainCheck.stdout());
        assertThat(plainDoc.get("checks").get(0).get("ok").asBoolean()).as(plainCheck.toString()).isTrue();
        assertThat(plainDoc.get("checks").get(1).get("detail").asText()).startsWith("bucket \"" + plain
                + "\" does not have Object Lock enabled");
    }
}
