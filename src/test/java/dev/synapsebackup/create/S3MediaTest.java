package dev.synapsebackup.create;

import dev.synapsebackup.Progress;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.MediaObject;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.restore.BackupVerifier;
import dev.synapsebackup.restore.MediaRestore;
import dev.synapsebackup.restore.VerifyResult;
import dev.synapsebackup.synapse.HomeserverConfig;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.S3MediaFixtures;
import dev.synapsebackup.testing.S3ProxyServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Media held in S3 by synapse-s3-storage-provider ({@code store_local: false}): copied into the
 * repository server-side on the same endpoint, streamed from another one; incremental by key,
 * size and ETag; a failure half-way leaves nothing.
 */
@Tag("slow")
class S3MediaTest {
    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();
    /** Another endpoint: copies from it cannot be server-side. */
    @RegisterExtension
    static final S3ProxyServer OTHER = S3ProxyServer.inMemory();

    private static final int SMALL = 2_000;
    private static final long MIB = 1024 * 1024;
    private static final Secret PASS = Secret.of("media passphrase");

    @TempDir
    static Path tmp;

    static Path work;

    @BeforeAll
    static void setUp() throws IOException {
        work = tmp.resolve("work");
        Files.createDirectories(work);
    }

    /** A sample homeserver whose media provider is {@code bucket} at {@code endpoint}. */
    private static Path homeserver(String name, String endpoint, String bucket) throws IOException {
        return S3MediaFixtures.homeserver(tmp.resolve(name), endpoint, bucket, "- module: file_system\n"
                + "  store_local: true\n"
                + "  config: {directory: /nonexistent}\n");
    }

    /** {@link #SMALL} small objects and three of 12 MiB, plus a URL preview that is never copied. */
    private static void fillMedia(S3ProxyServer server, String bucket) {
        fillMedia(server, bucket, SMALL);
    }

    private static void fillMedia(S3ProxyServer server, String bucket, int small) {
        server.createBucket(bucket);
        Random r = new Random(7);
        for (int i = 0; i < small; i++) {
            byte[] b = new byte[50 + r.nextInt(400)];
            r.nextBytes(b);
            server.putObject(bucket, String.format("synapse/local_content/%02x/%02x/media%05d", i % 256, i / 256, i),
                    b, Map.of());
        }
        for (int i = 0; i < 3; i++) {
            byte[] b = new byte[(int) (12 * MIB)];
            r.nextBytes(b);
            server.putObject(bucket, "synapse/local_content/zz/large" + i, b, Map.of());
        }
        server.putObject(bucket, "synapse/url_cache/2026-01-01/preview", new byte[10], Map.of());
    }

    private static S3Repository repository(S3ProxyServer server, String bucket) {
        server.createBucket(bucket);
        return S3Repository.builder(server.parameters(bucket).path("prod").build()).build();
    }

    private static String create(Repository repo, Path yaml) throws IOException {
        return createResult(repo, yaml).backupId();
    }

    private static CreateResult createResult(Repository repo, Path yaml) throws IOException {
        return new BackupCreator(repo, HomeserverConfig.load(List.of(yaml)),
                new CreateOptions(PASS, false, work, null), Clock.systemUTC())
                .mediaCopy(4, 6 * MIB).create();
    }

    private static long countUnder(Repository repo, String prefix) throws IOException {
        long[] n = {0};
        repo.listStored(prefix, o -> n[0]++);
        return n[0];
    }

    /** The backup's media records, in order. */
    private static List<MediaObject> mediaRecords(Repository repo, String id) throws IOException {
        Path dir = Files.createTempDirectory(work, "manifest");
        Path manifest = BackupReader.fetchManifest(repo, id, PASS, dir);
        List<MediaObject> records = new ArrayList<>();
        try (Manifest.FileIterator it = Manifest.files(manifest)) {
            while (it.hasNext()) {
                it.next();
            }
            Iterator<MediaObject> media = it.media();
            media.forEachRemaining(records::add);
            ManifestSummary s = it.summary();
            assertThat(s.media().objects()).isEqualTo(records.size());
            assertThat(s.media().stores()).singleElement().satisfies(st -> {
                assertThat(st.prefix()).isEqualTo("synapse/");
                assertThat(st.keyPrefixes()).containsExactly("synapse/local_content/", "synapse/local_thumbnails/");
            });
        }
        return records;
    }

    @Test
    void serverSideFullThenIncremental() throws Exception {
        fillMedia(S3, "media-a");
        Path yaml = homeserver("hs-a", S3.endpoint().toString(), "media-a");
        try (S3Repository repo = repository(S3, "backups-a")) {
            String full = create(repo, yaml);
            assertThat(countUnder(repo, "media/" + full + "/")).isEqualTo(SMALL + 3);
            List<MediaObject> records = mediaRecords(repo, full);
            assertThat(records).hasSize(SMALL + 3);
            assertThat(records).allSatisfy(m -> {
                assertThat(m.backup()).isEqualTo(full);
                assertThat(m.storedETag()).isNotNull(); // server-side: the host never saw the bytes
                assertThat(m.sha256()).isNull();
            });
            assertThat(records.stream().map(MediaObject::key).toList())
                    .isSortedAccordingTo(MediaObject.KEY_ORDER).noneMatch(k -> k.contains("url_cache"));
            assertThat(S3.incompleteUploads("backups-a")).isEmpty();
            // The copies are no backups and are not listed; other nested keys, before and after them, still count.
            S3.putObject("backups-a", "prod/0junk/x", new byte[1], Map.of());
            S3.putObject("backups-a", "prod/media0", new byte[1], Map.of());
            S3.putObject("backups-a", "prod/zz/y", new byte[1], Map.of());
            var listing = repo.listing();
            assertThat(listing.backups()).extracting(b -> b.id()).containsExactly(full);
            assertThat(listing.notBackupKeys()).containsExactly("0junk/x", "media0", "zz/y");

            // One deleted, one replaced (same size, other bytes), one added.
            S3.blobStore().removeBlob("media-a", "synapse/local_content/00/00/media00000");
            byte[] replaced = new byte[(int) S3.blobStore().blobMetadata("media-a",
                    "synapse/local_content/01/00/media00001").contentLength().longValue()];
            S3.putObject("media-a", "synapse/local_content/01/00/media00001", replaced, Map.of());
            S3.putObject("media-a", "synapse/local_thumbnails/00/00/new", new byte[] {1, 2, 3}, Map.of());

            CreateResult second = createResult(repo, yaml);
            String incremental = second.backupId();
            assertThat(second.media()).isEqualTo(new CreateResult.Media(SMALL + 3, second.media().bytes(), 2, 0));
            assertThat(countUnder(repo, "media/" + incremental + "/")).isEqualTo(2);
            List<MediaObject> after = mediaRecords(repo, incremental);
            assertThat(after).hasSize(SMALL + 3);
            assertThat(after).filteredOn(m -> m.backup().equals(incremental)).extracting(MediaObject::key)
                    .containsExactly("synapse/local_content/01/00/media00001", "synapse/local_thumbnails/00/00/new");
            assertThat(after).extracting(MediaObject::key).doesNotContain("synapse/local_content/00/00/media00000");
            assertThat(after).filteredOn(m -> m.backup().equals(full)).hasSize(SMALL + 1);

            VerifyResult v = new BackupVerifier(repo).verify(incremental, PASS, work, Progress.NONE, true);
            assertThat(v.ok()).as(v.problems().toString()).isTrue();
            assertThat(v.mediaObjects()).isEqualTo(SMALL + 3);

            // Live: one object lost, one overwritten, one the backup never had: two copied back, nothing deleted.
            byte[] lost = S3.blobStore().getBlob("media-a", "synapse/local_content/05/00/media00005").readAllBytes();
            S3.blobStore().removeBlob("media-a", "synapse/local_content/05/00/media00005");
            S3.putObject("media-a", "synapse/local_content/06/00/media00006", new byte[] {9}, Map.of());
            S3.putObject("media-a", "synapse/local_content/07/00/extra", new byte[] {7}, Map.of());
            Path dir = Files.createTempDirectory(work, "restore");
            Path manifest = BackupReader.fetchManifest(repo, incremental, PASS, dir);
            MediaRestore.Result live = MediaRestore.toLive(repo, manifest, Manifest.readSummary(manifest).media(),
                    HomeserverConfig.load(List.of(yaml)).s3MediaProviders(), Progress.NONE);
            assertThat(live.listed()).isEqualTo(SMALL + 3);
            assertThat(live.written()).isEqualTo(2);
            assertThat(S3.blobStore().getBlob("media-a", "synapse/local_content/05/00/media00005").readAllBytes())
                    .isEqualTo(lost);
            assertThat(S3.blobStore().blobMetadata("media-a", "synapse/local_content/06/00/media00006").contentLength())
                    .isNotEqualTo(1L);
            assertThat(S3.blobStore().blobMetadata("media-a", "synapse/local_content/07/00/extra")).isNotNull();

            Path target = tmp.resolve("target-a");
            MediaRestore.Result files = MediaRestore.toTarget(repo, manifest, target, Progress.NONE);
            assertThat(files.written()).isEqualTo(SMALL + 3);
            assertThat(target.resolve("s3-media/media-a/synapse/local_content/05/00/media00005")).hasBinaryContent(lost);
            assertThat(target.resolve("s3-media/media-a/synapse/local_content/00/00/media00000")).doesNotExist();

            // A copy gone from the repository is found without downloading anything.
            repo.deleteObject("media/" + full + "/media-a/synapse/local_content/10/00/media00016");
            VerifyResult broken = new BackupVerifier(repo).verify(incremental, PASS, work, Progress.NONE, false);
            assertThat(broken.problems()).singleElement().asString().contains("media00016").contains("missing");

            // Deleting the incremental backup removes its copies and none of the full backup's.
            repo.delete(incremental);
            assertThat(countUnder(repo, "media/" + incremental + "/")).isZero();
            assertThat(countUnder(repo, "media/" + full + "/")).isEqualTo(SMALL + 2);
        }
    }

    @Test
    void streamedFromAnotherEndpoint() throws Exception {
        int small = 500; // streaming is slower: fewer objects keep the test short
        fillMedia(OTHER, "media-b", small);
        Path yaml = homeserver("hs-b", OTHER.endpoint().toString(), "media-b");
        try (S3Repository repo = repository(S3, "backups-b")) {
            CreateResult result = createResult(repo, yaml);
            assertThat(result.media().streamed()).isEqualTo(small + 3);
            assertThat(result.media().serverSide()).isZero();
            String id = result.backupId();
            List<MediaObject> records = mediaRecords(repo, id);
            assertThat(records).hasSize(small + 3).allSatisfy(m -> assertThat(m.sha256()).hasSize(64));
            assertThat(countUnder(repo, "media/" + id + "/")).isEqualTo(small + 3);
            VerifyResult all = new BackupVerifier(repo).verify(id, PASS, work, Progress.NONE, true);
            assertThat(all.ok()).as(all.problems().toString()).isTrue();
            assertThat(all.mediaHashed()).isEqualTo(small + 3);
            VerifyResult sample = new BackupVerifier(repo).verify(id, PASS, work, Progress.NONE, false);
            assertThat(sample.mediaHashed()).isEqualTo((small + 3 + 99) / 100);

            // Restored live into an emptied bucket, streamed back across endpoints (the large ones in parts).
            for (MediaObject m : records) {
                OTHER.blobStore().removeBlob("media-b", m.key());
            }
            Path dir = Files.createTempDirectory(work, "restore");
            Path manifest = BackupReader.fetchManifest(repo, id, PASS, dir);
            MediaRestore.Result live = MediaRestore.toLive(repo, manifest, Manifest.readSummary(manifest).media(),
                    HomeserverConfig.load(List.of(yaml)).s3MediaProviders(), Progress.NONE);
            assertThat(live.written()).isEqualTo(small + 3);
            assertThat(OTHER.blobStore().blobMetadata("media-b", "synapse/local_content/zz/large2").contentLength())
                    .isEqualTo(12 * MIB);
        }
    }

    @Test
    void aFailureHalfWayLeavesNothing() throws Exception {
        fillMedia(OTHER, "media-c");
        try (FaultProxy proxy = new FaultProxy(OTHER.port())) {
            Path yaml = homeserver("hs-c", proxy.endpoint().toString(), "media-c");
            proxy.inject(r -> r.isGet("media01500"), 100, new FaultProxy.Status(500, "InternalError"));
            try (S3Repository repo = repository(S3, "backups-c")) {
                assertThatThrownBy(() -> create(repo, yaml)).hasMessageContaining("media01500");
                assertThat(S3.keys("backups-c")).isEmpty();
                assertThat(S3.incompleteUploads("backups-c")).isEmpty();
            }
        }
    }

    @Test
    void localRepositoryGetsFilesAndAFailureLeavesNothing() throws Exception {
        S3.createBucket("media-d");
        S3.putObject("media-d", "synapse/local_content/aa/one", new byte[] {1}, Map.of());
        S3.putObject("media-d", "synapse/local_content/aa/two", new byte[] {2, 2}, Map.of());
        Path yaml = homeserver("hs-d", S3.endpoint().toString(), "media-d");
        Path dir = Files.createDirectories(tmp.resolve("local-repo"));
        LocalRepository repo = new LocalRepository(dir);
        String id = create(repo, yaml);
        assertThat(dir.resolve("media/" + id + "/media-d/synapse/local_content/aa/two")).hasBinaryContent(new byte[] {2, 2});

        // The next run fails on one object's GET, after it copied others: nothing of it remains.
        S3.putObject("media-d", "synapse/local_content/aa/zero", new byte[] {0}, Map.of());
        S3.putObject("media-d", "synapse/local_content/aa/zzz", new byte[] {0, 1}, Map.of());
        List<String> before;
        try (var s = Files.walk(dir)) {
            before = s.map(Path::toString).sorted().toList();
        }
        try (FaultProxy proxy = new FaultProxy(S3.port())) {
            Path failing = homeserver("hs-d2", proxy.endpoint().toString(), "media-d");
            proxy.inject(r -> r.isGet("aa/zzz"), 100, new FaultProxy.Status(500, "InternalError"));
            assertThatThrownBy(() -> create(repo, failing)).hasMessageContaining("zzz");
        }
        try (var s = Files.walk(dir)) {
            assertThat(s.map(Path::toString).sorted().toList()).isEqualTo(before);
        }

        // Copies a killed run left (no data object, newer than every complete backup) go with the next run.
        Path orphan = dir.resolve("media/backup-29991231000000000000/media-d/synapse/local_content/aa/one");
        Files.createDirectories(orphan.getParent());
        Files.write(orphan, new byte[] {1});
        S3.blobStore().removeBlob("media-d", "synapse/local_content/aa/zzz");
        create(repo, yaml);
        assertThat(dir.resolve("media/backup-29991231000000000000")).doesNotExist();
    }

    @Test
    void theCommandLineShowsPrintsAndRestoresTheMedia() throws Exception {
        S3.createBucket("media-e");
        S3.putObject("media-e", "synapse/local_content/ab/cd/one", new byte[] {1, 2, 3}, Map.of());
        S3.putObject("media-e", "synapse/local_thumbnails/ab/cd/one/32-32", new byte[] {4}, Map.of());
        S3.createBucket("backups-e");
        Path yaml = homeserver("hs-e", S3.endpoint().toString(), "media-e");
        Path pass = tmp.resolve("pass-e");
        Files.writeString(pass, "cli passphrase\n");
        Files.setPosixFilePermissions(pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        java.util.function.Function<String[], dev.synapsebackup.testing.Cli.Result> cli = cmd -> {
            List<String> a = new ArrayList<>(List.of(cmd));
            a.addAll(List.of("--bucket", "backups-e", "--path", "prod", "--endpoint", S3.endpoint().toString(),
                    "--s3-uri-style", "path", "--synapse-config", yaml.toString(), "--passphrase-file", pass.toString()));
            return new dev.synapsebackup.testing.Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                    .env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY).run(a.toArray(String[]::new));
        };
        var dry = cli.apply(new String[] {"create", "--dry-run"});
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.stdout()).contains("media in S3: s3://media-e/synapse/ at " + S3.endpoint() + ": 2 objects")
                .contains("credentials from homeserver.yaml").contains("server-side")
                .doesNotContain(S3ProxyServer.SECRET_KEY);
        var created = cli.apply(new String[] {"create"});
        assertThat(created.exitCode()).as(created.toString()).isZero();
        String id = created.lastLine();
        var show = cli.apply(new String[] {"show", id});
        assertThat(show.stdout()).contains("s3-media:     s3://media-e/synapse/").contains("2 objects");
        var script = cli.apply(new String[] {"restore", id, "--print-command", "--target", tmp.resolve("t-e").toString()});
        assertThat(script.exitCode()).as(script.toString()).isZero();
        assertThat(script.stdout()).contains("aws s3 cp --recursive --only-show-errors s3://backups-e/prod/media/" + id + "/ \"$partial/s3-media/\"")
                .contains("aws s3 sync \"$target/s3-media/media-e/\" s3://media-e/");
        Path target = tmp.resolve("target-e");
        var restored = cli.apply(new String[] {"restore", id, "--target", target.toString()});
        assertThat(restored.exitCode()).as(restored.toString()).isZero();
        assertThat(target.resolve("s3-media/media-e/synapse/local_thumbnails/ab/cd/one/32-32")).hasBinaryContent(new byte[] {4});
        var verify = cli.apply(new String[] {"verify", id});
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        assertThat(verify.stdout()).contains("media held in S3: 2 copies");
    }
}
