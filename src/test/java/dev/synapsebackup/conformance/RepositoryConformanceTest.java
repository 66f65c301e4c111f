package dev.synapsebackup.conformance;

import static dev.synapsebackup.testing.Procs.q;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Await;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Launcher;
import dev.synapsebackup.testing.Procs;
import dev.synapsebackup.testing.TestStore;
import dev.synapsebackup.testing.TestStore.Space;
import dev.synapsebackup.testing.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The repository conformance suite: the same cases, written once (as restic's backend tests
 * are), run by one subclass per store (a local directory, S3Proxy, S3Mock, s3rver). Commands run
 * through the real command line: in-process for speed, as a child process (the real launcher)
 * where a case needs a run of its own to kill, or a host-name mapping (virtual-hosted addressing).
 *
 * <p>A store's known limitation is asserted as the documented behaviour (a warning, a fallback,
 * an error text), never skipped. Cases marked {@code needs i16a} fail until the product fixes of
 * issue 16 (branch i16a) are merged.
 *
 * <p>One shared repository (a full and an incremental backup under a nested prefix, beside 1,050
 * foreign objects and a charm backup) serves the read-only cases; the cases that change a
 * repository each get their own bucket (or directory).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RepositoryConformanceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Nested foreign objects under the prefix: more than one listing page (1,000 keys). */
    private static final int JUNK = 1050;
    private static final String PREFIX = "prod/synapse";
    private static final String CHARM_ID = "20240101000000000000";

    private static boolean launcherWarm;
    private final TestStore store;
    private Path tmp;
    private Path pass;
    private Path hs;
    private Path yaml;
    private Path bigYaml;
    private Space main;
    private String fullId;
    private String incrementalId;
    private Map<String, String> atFull;
    private Map<String, String> atIncremental;
    private AssertionError sharedFailure;

    RepositoryConformanceTest(TestStore store) {
        this.store = store;
    }

    @BeforeAll
    void sharedRepository() throws Exception {
        tmp = Files.createTempDirectory("conformance-");
        pass = tmp.resolve("passphrase");
        Files.writeString(pass, "conformance passphrase\n");
        Files.setPosixFilePermissions(pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(12, 1_200_000));
        store.start();

        main = store.newSpace("main");
        main.putAll(IntStream.range(0, JUNK).mapToObj(i -> PREFIX + "/0junk/" + String.format("k%04d", i)).toList(),
                "not a backup\n".getBytes(StandardCharsets.UTF_8));
        main.put(PREFIX + "/" + CHARM_ID, "made by the charm".getBytes(StandardCharsets.UTF_8));
        main.put("outside/" + CHARM_ID, "beside the prefix".getBytes(StandardCharsets.UTF_8));

        try {
            makeSharedBackups();
        } catch (AssertionError e) {
            // Reported by each case that reads the shared repository; the others still run.
            sharedFailure = e;
        }
    }

    // needs i16a on s3rver: http payload signing (it stores aws-chunked framing verbatim, so the lock
    // object reads back altered and every create exits 6), altered lock object, lock leaking on failure
    private void makeSharedBackups() throws IOException {
        fullId = create(main, PREFIX, yaml, "--full");
        atFull = state(hs);
        // Change the homeserver: one media file more, one less, the configuration edited.
        Path media = hs.resolve("data/media_store/local_content");
        Files.writeString(Files.createDirectories(media.resolve("zz/zz")).resolve("added-after-full"), "new media\n");
        try (Stream<Path> files = Files.walk(media)) {
            Files.delete(files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("added"))
                    .sorted().findFirst().orElseThrow());
        }
        Files.writeString(yaml, "# edited after the full backup\n", java.nio.file.StandardOpenOption.APPEND);
        incrementalId = create(main, PREFIX, yaml);
        atIncremental = state(hs);
    }

    /** Fails the calling case if the shared backups could not be made. */
    private void requireSharedBackups() {
        if (sharedFailure != null) {
            throw new AssertionError("the shared full and incremental backups could not be made on " + store.name(),
                    sharedFailure);
        }
    }

    @AfterAll
    void stop() {
        store.close();
        deleteTree(tmp);
    }

    // ---- the cases ----

    @Test
    void check() throws Exception {
        Cli.Result r = run(main, PREFIX, "check");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEqualTo("active\n");
        Cli.Result j = run(main, PREFIX, "check", "--json");
        assertThat(j.exitCode()).as(j.toString()).isZero();
        assertThat(JSON.readTree(j.stdout()).get("status").asText()).isEqualTo("active");
    }

    @Test
    void createFullThenIncremental() throws Exception {
        requireSharedBackups();
        JsonNode full = showJson(fullId);
        assertThat(full.get("kind").asText()).isEqualTo("full");
        JsonNode incremental = showJson(incrementalId);
        assertThat(incremental.get("kind").asText()).isEqualTo("incremental");
        assertThat(incremental.get("parent").asText()).isEqualTo(fullId);
        assertThat(incremental.get("full-backup").asText()).isEqualTo(fullId);
        // The incremental stored only what changed: far fewer bytes than the full one.
        JsonNode sizes = JSON.readTree(run(main, PREFIX, "list", "--json").stdout()).get("backups");
        assertThat(sizes.get(incrementalId).get("size").asLong()).isLessThan(sizes.get(fullId).get("size").asLong() / 4);
        assertThat(main.keys()).contains(PREFIX + "/" + fullId, PREFIX + "/" + fullId + ".manifest",
                PREFIX + "/" + incrementalId, PREFIX + "/" + incrementalId + ".manifest");
        assertThat(main.keys()).noneMatch(k -> k.contains("locks/") || k.contains(".tmp-"));
    }

    /**
     * The listing pages past 1,000 keys (the 1,050 foreign objects sort before our backups), and
     * shows the backups only: ours and the charm's, not the nested keys.
     */
    @Test
    void listPastAThousandObjects() throws Exception {
        requireSharedBackups();
        assertThat(main.keys()).hasSizeGreaterThan(1000);
        // needs i16a: prune deleting non-backup objects (nested keys are not backups, so list does not show them either)
        Cli.Result r = run(main, PREFIX, "list");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        List<String> rows = r.stdout().lines().filter(l -> l.contains(" | ")).skip(1).toList();
        assertThat(rows.stream().map(l -> l.substring(0, l.indexOf(' '))).toList()).as("backup ids listed")
                .containsExactly(CHARM_ID, fullId, incrementalId);
        assertThat(rows.get(0)).endsWith("| foreign");
        assertThat(rows.get(1)).endsWith("| complete");
        assertThat(rows.get(2)).endsWith("| complete");

        Cli.Result j = run(main, PREFIX, "list", "--json");
        assertThat(j.exitCode()).as(j.stderr()).isZero();
        JsonNode backups = JSON.readTree(j.stdout()).get("backups");
        assertThat(backups.fieldNames()).toIterable().as("backup ids in list --json")
                .containsExactly(CHARM_ID, fullId, incrementalId);
        assertThat(backups.get(fullId).get("size").asLong()).isGreaterThan(1_000_000);
        assertThat(backups.get(incrementalId).get("last-modified").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ");
    }

    @Test
    void show() {
        requireSharedBackups();
        Cli.Result r = run(main, PREFIX, "show", incrementalId);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains(incrementalId).contains(fullId).contains(SampleHomeserver.SERVER_NAME);
        Cli.Result missing = run(main, PREFIX, "show", "backup-20000101000000000000");
        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(4);
        assertThat(missing.stderr()).contains("backup-id backup-20000101000000000000 does not exist");
    }

    @Test
    void verify() {
        requireSharedBackups();
        for (String id : List.of(fullId, incrementalId)) {
            Cli.Result r = run(main, PREFIX, "verify", id);
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.stdout()).startsWith("ok: " + id);
        }
    }

    @Test
    void restoreTargetIsByteIdentical() throws Exception {
        requireSharedBackups();
        Path t1 = tmp.resolve("restore-full");
        Cli.Result r1 = run(main, PREFIX, "restore", fullId, "--target", t1.toString());
        assertThat(r1.exitCode()).as(r1.toString()).isZero();
        assertThat(state(t1.resolve(relative(hs)))).isEqualTo(atFull);
        Path t2 = tmp.resolve("restore-incremental");
        Cli.Result r2 = run(main, PREFIX, "restore", incrementalId, "--target", t2.toString());
        assertThat(r2.exitCode()).as(r2.toString()).isZero();
        assertThat(state(t2.resolve(relative(hs)))).isEqualTo(atIncremental);
    }

    /** The printed stock-tools procedure, run as printed (aws CLI, gpg, GNU tar), restores the backup. */
    @Test
    void printedCommandRestoresWithStockTools() throws Exception {
        requireSharedBackups();
        Path target = tmp.resolve("restore-stock");
        Cli.Result p = run(main, PREFIX, "restore", incrementalId, "--print-command", "--target", target.toString());
        assertThat(p.exitCode()).as(p.toString()).isZero();
        String script = p.stdout();
        if (main.secretKey() != null) {
            assertThat(script).contains("aws s3 cp ").contains("export AWS_SECRET_ACCESS_KEY='<secret-key>'");
            // (s3rver's only account uses the same string as key id and secret)
            assertThat(script.lines().filter(l -> !l.startsWith("export AWS_ACCESS_KEY_ID=")))
                    .noneMatch(l -> l.contains(main.secretKey()));
            script = script.replace("'<secret-key>'", q(main.secretKey()));
        }
        Path gnupg = Files.createDirectories(tmp.resolve("stock-gnupg"));
        Files.setPosixFilePermissions(gnupg, PosixFilePermissions.fromString("rwx------"));
        Path home = Files.createDirectories(tmp.resolve("stock-home"));
        Procs.Result r = Procs.bash(script, Map.of("GNUPGHOME", gnupg.toString(), "HOME", home.toString(),
                "AWS_CONFIG_FILE", home.resolve("aws-config").toString(),
                "AWS_SHARED_CREDENTIALS_FILE", home.resolve("aws-credentials").toString()), null);
        Procs.run(List.of("gpgconf", "--kill", "gpg-agent"), (byte[]) null, Map.of("GNUPGHOME", gnupg.toString()), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(state(target.resolve(relative(hs)))).isEqualTo(atIncremental);
    }

    /**
     * prune and delete remove backups (ours and the charm's) and nothing else: nested keys and
     * other names under the prefix, and everything beside it, survive.
     */
    @Test
    void pruneAndDeleteLeaveForeignObjectsAlone() throws Exception {
        Space s = store.newSpace("prune");
        byte[] x = "x".getBytes(StandardCharsets.UTF_8);
        List<String> notBackups = List.of(
                "prod/0junk/a", "prod/0junk/b/c", "prod/notes.txt", "prod/nested/backup-20240103000000000000",
                "prod/backup-2024", "prod/" + CHARM_ID + ".txt",
                "other/keep", "prodx/backup-20240101000000000000", "backup-20240105000000000000");
        for (String k : notBackups) {
            s.put(k, x);
        }
        s.put("prod/" + CHARM_ID, x);
        s.put("prod/backup-20240102000000000000", x);
        String first = create(s, "prod", yaml, "--full");
        String second = create(s, "prod", yaml, "--full");

        // needs i16a: prune deleting non-backup objects; on s3rver also prune failing on 501 from ListMultipartUploads
        Cli.Result p = run(s, "prod", "prune", "--keep-last", "1");
        assertThat(p.exitCode()).as(p.toString()).isZero();
        assertThat(p.stdout()).containsPattern("(?m)^remove\\s+" + CHARM_ID + "\\s")
                .containsPattern("(?m)^remove\\s+backup-20240102000000000000\\s")
                .containsPattern("(?m)^remove\\s+" + first + "\\s")
                .containsPattern("(?m)^keep\\s+" + second + "\\s")
                .contains("kept 1, removed 3 of 4 backups");
        if (store.limits().contains(TestStore.Limit.NO_MULTIPART_LISTING)) {
            // No ListMultipartUploads (501): the clean-up of interrupted uploads is a warning.
            assertThat(p.stderr()).containsIgnoringCase("multipart");
        }
        List<String> expected = new ArrayList<>(notBackups);
        expected.add("prod/" + second);
        expected.add("prod/" + second + ".manifest");
        assertThat(withoutHidden(s.keys())).containsExactlyInAnyOrderElementsOf(expected);

        Cli.Result d = run(s, "prod", "delete", second);
        assertThat(d.exitCode()).as(d.toString()).isZero();
        assertThat(withoutHidden(s.keys())).containsExactlyInAnyOrderElementsOf(notBackups);
        Cli.Result l = run(s, "prod", "list", "--json");
        assertThat(JSON.readTree(l.stdout()).get("backups").size()).as(l.toString()).isZero();
    }

    /**
     * Two creates started at once: exactly one proceeds, the other exits 6 at once. They run in
     * two threads of this JVM (each run has its own lock token), released together so that their
     * lock attempts meet within milliseconds: a tighter race than two JVMs starting.
     */
    @Test
    void twoSimultaneousCreates() throws Exception {
        Space s = store.newSpace("race");
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        java.util.function.Supplier<Cli.Result> create = () -> {
            try {
                go.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return run(s, "race", "create", "--quiet", "--synapse-config", bigYaml().toString());
        };
        bigYaml();
        java.util.concurrent.ExecutorService two = java.util.concurrent.Executors.newFixedThreadPool(2);
        CompletableFuture<Cli.Result> a = CompletableFuture.supplyAsync(create, two);
        CompletableFuture<Cli.Result> b = CompletableFuture.supplyAsync(create, two);
        two.shutdown();
        go.countDown();
        // needs i16a: If-None-Match detection (s3rver ignores it: both runs could take the lock).
        // Seen with i16a merged, on s3rver: the loser exits 6 but names "unreadable lock object
        // locks/exclusive on unknown host (pid -1)": it read the lock while the winner's probe
        // rewrote it (s3rver does not replace objects atomically).
        Cli.Result first = (Cli.Result) CompletableFuture.anyOf(a, b).get(5, TimeUnit.MINUTES);
        Cli.Result second = (first == a.getNow(null) ? b : a).get(5, TimeUnit.MINUTES);
        assertThat(first.exitCode()).as("the run that ended first: " + first).isEqualTo(6);
        assertThat(first.stderr()).contains("repository is locked by create on");
        assertThat(second.exitCode()).as(second.toString()).isZero();
        Cli.Result l = run(s, "race", "list", "--json");
        assertThat(JSON.readTree(l.stdout()).get("backups").fieldNames()).toIterable().as(l.toString())
                .containsExactly(second.lastLine().strip());
        assertThat(s.keys()).noneMatch(k -> k.contains("locks/"));
    }

    /** A create killed with SIGKILL leaves its lock; unlock removes it at once and the next create runs. */
    @Test
    void killMinus9ThenUnlock() throws Exception {
        Space s = store.newSpace("kill");
        Path logs = tmp.resolve("kill-logs");
        Process p = child(s, "kill", logs, List.of(), "create", "--synapse-config", bigYaml().toString());
        // The lock object, once written (a local lock is written under a hidden temporary name first).
        // needs i16a: If-None-Match detection. On a store that ignores it two runs could both create
        // locks/exclusive, so the lock must be taken by write-then-list there (locks/<token>).
        java.util.function.Predicate<String> isLock = store.limits().contains(TestStore.Limit.IGNORES_IF_NONE_MATCH)
                ? k -> k.contains("locks/") && !k.endsWith("locks/exclusive")
                : k -> k.contains("locks/");
        Await.until("the lock object", Duration.ofSeconds(120),
                () -> !p.isAlive() || withoutHidden(s.keys()).stream().anyMatch(isLock));
        assertThat(p.isAlive()).as(() -> "the create ended before its lock was seen: " + readQuietly(logs.resolve("stderr")))
                .isTrue();
        p.destroyForcibly(); // SIGKILL: no clean-up at all
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(withoutHidden(s.keys())).anyMatch(k -> k.contains("locks/"));

        // needs i16a: dead-pid lock stale at once (a lock of this host whose process is gone)
        Cli.Result u = run(s, "kill", "unlock");
        assertThat(u.exitCode()).as(u.toString()).isZero();
        assertThat(u.stdout()).contains("removed 1 lock");
        assertThat(withoutHidden(s.keys())).noneMatch(k -> k.contains("locks/"));
        create(s, "kill", yaml);
    }

    /**
     * Virtual-hosted addressing ({@code s3-uri-style: host}) works where the store serves it; where
     * it does not, {@code check} says so instead of "active".
     */
    @Test
    void virtualHostedAddressing() throws Exception {
        Space s = store.newSpace("vhost");
        if (store.virtualHosts() == TestStore.VirtualHosts.NOT_APPLICABLE) {
            // A directory has no addressing style: s3-uri-style with --repo is refused, naming both.
            Cli cli = new Cli();
            Cli.Result r = cli.run(Stream.concat(Stream.of("check"), s.virtualHostArgs("vh").stream()).toArray(String[]::new));
            assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
            assertThat(r.stderr()).startsWith("Backup: S3 configuration is invalid (").contains("--repo").contains("\"s3\"");
            return;
        }
        Path logs = tmp.resolve("vhost-logs");
        List<String> jvm = List.of("-Djdk.net.hosts.file=" + s.hostsFile());
        Process check = child(s, null, logs.resolve("check"), jvm, "check");
        int exit = Launcher.await(check, 120);
        String out = Files.readString(logs.resolve("check/stdout"));
        String err = Files.readString(logs.resolve("check/stderr"));
        if (store.virtualHosts() == TestStore.VirtualHosts.NOT_SERVED) {
            // needs i16a: check on vhost-less stores
            assertThat(exit).as(out + err).isEqualTo(2);
            assertThat(err).isEqualTo("Backup: S3 configuration is invalid (the store does not serve virtual-hosted"
                    + " addressing; set s3-uri-style: path)\n");
            assertThat(out).isEmpty();
            return;
        }
        assertThat(exit).as(err).isZero();
        assertThat(out).isEqualTo("active\n");
        Process create = child(s, null, logs.resolve("create"), jvm, "create", "--quiet");
        assertThat(Launcher.await(create, 300)).as(Files.readString(logs.resolve("create/stderr"))).isZero();
        String id = Files.readString(logs.resolve("create/stdout")).strip();
        assertThat(s.keys()).contains("vh/" + id, "vh/" + id + ".manifest");
        // The backup is where path-style requests find it: in the configured bucket, under "vh".
        Cli.Result l = run(s, "vh", "list", "--json");
        assertThat(JSON.readTree(l.stdout()).get("backups").fieldNames()).toIterable().as(l.toString())
                .containsExactly(id);
    }

    // ---- helpers ----

    /** Runs the command line in-process against {@code path} in {@code space}. */
    private Cli.Result run(Space space, String path, String... command) {
        Cli cli = new Cli();
        space.env().forEach(cli::env);
        List<String> args = new ArrayList<>(List.of(command));
        args.addAll(space.repoArgs(path));
        if (!args.contains("--synapse-config")) {
            args.addAll(List.of("--synapse-config", yaml.toString()));
        }
        args.addAll(List.of("--passphrase-file", pass.toString()));
        return cli.run(args.toArray(String[]::new));
    }

    /** Makes a backup of the homeserver {@code hsYaml} and returns its id. */
    private String create(Space space, String path, Path hsYaml, String... options) {
        List<String> args = new ArrayList<>(List.of("create", "--quiet", "--synapse-config", hsYaml.toString()));
        args.addAll(List.of(options));
        Cli.Result r = run(space, path, args.toArray(String[]::new));
        assertThat(r.exitCode()).as(store.name() + ": " + r).isZero();
        return r.lastLine().strip();
    }

    /**
     * Starts the real launcher as a child process (its own JVM and pid) against {@code path} in
     * {@code space}, or with virtual-hosted addressing under "vh" when {@code path} is null.
     */
    private Process child(Space space, String path, Path logDir, List<String> jvmOptions, String... command)
            throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of(command));
        args.addAll(path == null ? space.virtualHostArgs("vh") : space.repoArgs(path));
        if (!args.contains("--synapse-config")) {
            args.addAll(List.of("--synapse-config", yaml.toString()));
        }
        args.addAll(List.of("--passphrase-file", pass.toString()));
        Map<String, String> env = new HashMap<>(space.env());
        warmLauncher();
        Files.createDirectories(logDir);
        return Launcher.start(args, env, logDir, "256m", Files.createDirectories(logDir.resolve("tmp")),
                jvmOptions.toArray(String[]::new));
    }

    /**
     * Runs the launcher once and waits: its first run after a build records the class-data-sharing
     * archive, which two runs started at once would otherwise both do, skewing a race.
     */
    private static synchronized void warmLauncher() throws IOException, InterruptedException {
        if (!launcherWarm) {
            Path logs = Files.createTempDirectory("conformance-warm-");
            int exit = Launcher.await(Launcher.start(List.of("--version"), Map.of(), logs, "256m", logs), 300);
            assertThat(exit).as("bin/synapse-backup --version").isZero();
            deleteTree(logs);
            launcherWarm = true;
        }
    }

    /** A homeserver whose create takes a few seconds (24 MB of media), made once. */
    private synchronized Path bigYaml() {
        if (bigYaml == null) {
            bigYaml = SampleHomeserver.generate(tmp.resolve("big-hs"),
                    SampleHomeserver.Options.defaults().withMedia(24, 24_000_000));
        }
        return bigYaml;
    }

    private JsonNode showJson(String id) throws IOException {
        Cli.Result r = run(main, PREFIX, "show", id, "--json");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return JSON.readTree(r.stdout());
    }

    /** What a restore must reproduce: configuration, signing key and local media (content, mode, mtime). */
    private static Map<String, String> state(Path hsRoot) throws IOException {
        Map<String, String> m = new TreeMap<>();
        Trees.fingerprint(hsRoot.resolve("etc")).forEach((k, v) -> m.put("etc/" + k, v));
        Path media = hsRoot.resolve("data/media_store");
        for (String dir : List.of("local_content", "local_thumbnails")) {
            if (Files.isDirectory(media.resolve(dir))) {
                Trees.fingerprint(media.resolve(dir)).forEach((k, v) -> m.put(dir + "/" + k, v));
            }
        }
        return m;
    }

    /** The path under a restore target where {@code p} lands (absolute path without the leading "/"). */
    private static String relative(Path p) {
        return p.toAbsolutePath().toString().substring(1);
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    /** Keys without the local repository's hidden metadata files ({@code .<name>.meta}). */
    private static List<String> withoutHidden(List<String> keys) {
        return keys.stream().filter(k -> !Path.of(k).getFileName().toString().startsWith(".")).toList();
    }

    private static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
