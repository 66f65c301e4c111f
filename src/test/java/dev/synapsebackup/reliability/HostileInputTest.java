package dev.synapsebackup.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.Trees;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and broken input through the real command line: each gives a clear one-line error,
 * the documented exit code, no stack trace (unless --verbose), and writes nothing live.
 */
class HostileInputTest {
    private static final String PASSPHRASE = "hostile input passphrase";
    private static final Secret SECRET = Secret.of(PASSPHRASE);

    @TempDir
    static Path tmp;

    static Path hs;
    static Path yaml;
    static Path repo;
    static Path config;
    static String goodId;
    static byte[] goodData;

    Map<String, String> before;

    @BeforeAll
    static void setUp() throws Exception {
        hs = tmp.resolve("hs");
        yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(10, 2_000_000));
        repo = tmp.resolve("repo");
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, PASSPHRASE + "\n");
        // Readable by its owner only, as a passphrase file should be (else every run warns).
        java.nio.file.Files.setPosixFilePermissions(pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        config = tmp.resolve("config.yaml");
        Files.writeString(config, """
                synapse-config: %s
                repository: %s
                passphrase-file: %s
                service:
                  stop-command: [/bin/sh, -c, "echo stop >> %s"]
                  start-command: [/bin/sh, -c, "echo start >> %s"]
                """.formatted(yaml, repo, pass, tmp.resolve("service.log"), tmp.resolve("service.log")));
        Cli.Result c = cli("create", "--quiet");
        assertThat(c.exitCode()).as(c.toString()).isZero();
        goodId = c.lastLine();
        goodData = Files.readAllBytes(repo.resolve(goodId));
    }

    @BeforeEach
    void snapshot() throws IOException {
        before = Trees.fingerprint(hs);
    }

    private static Cli.Result cli(String... args) {
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--config";
        all[args.length + 1] = config.toString();
        return new Cli().run(all);
    }

    /** The error is one line (after progress lines), has no stack trace, and nothing live changed. */
    private void assertCleanRefusal(Cli.Result r, int exitCode, String... phrases) throws IOException {
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(exitCode);
        assertThat(r.stderr()).as(r.toString()).doesNotContain("\tat ").doesNotContain("Exception");
        List<String> errors = r.stderr().lines().filter(l -> !l.startsWith("Restore:") && !l.startsWith("Verify:")
                && !l.isBlank() && !l.startsWith("  ")).toList(); // verify lists each problem indented
        assertThat(errors).as(r.toString()).hasSize(1);
        for (String p : phrases) {
            assertThat(errors.get(0)).as(r.toString()).contains(p);
        }
        assertThat(Trees.fingerprint(hs)).isEqualTo(before);
        try (Stream<Path> s = Files.walk(tmp)) {
            assertThat(s.filter(p -> p.getFileName().toString().startsWith(".synapse-restore-"))).isEmpty();
        }
        assertThat(tmp.resolve("service.log")).doesNotExist();
    }

    /** Stores {@code data} as a data object (no manifest: as made by another tool) and restores it. */
    private void restoreRefused(String id, byte[] data, int exitCode, String... phrases) throws IOException {
        Files.write(repo.resolve(id), data);
        try {
            assertCleanRefusal(cli("restore", id), exitCode, phrases);
            assertCleanRefusal(cli("verify", id), exitCode, phrases);
            Path target = Files.createDirectories(tmp.resolve("target-" + id));
            assertCleanRefusal(cli("restore", id, "--target", target.toString()), exitCode, phrases);
            try (Stream<Path> s = Files.list(target)) {
                assertThat(s).as("--target is left empty").isEmpty();
            }
        } finally {
            Files.delete(repo.resolve(id));
        }
    }

    private static byte[] tar(UnaryOperator<TarArchiveOutputStream> body) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(buf)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            body.apply(t);
        }
        return buf.toByteArray();
    }

    private static TarArchiveOutputStream file(TarArchiveOutputStream t, String name, byte[] content) {
        try {
            TarArchiveEntry e = new TarArchiveEntry(name, true);
            e.setSize(content.length);
            e.setMode(0100644);
            t.putArchiveEntry(e);
            t.write(content);
            t.closeArchiveEntry();
            return t;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String liveMedia(String rest) {
        return hs.resolve("data/media_store/local_content").toString().substring(1) + "/" + rest;
    }

    @Test
    void randomBytes() throws IOException {
        byte[] junk = new byte[100_000];
        new Random(1).nextBytes(junk);
        restoreRefused("backup-hostile-random", junk, 5, "backup-hostile-random");
    }

    @Test
    void emptyObject() throws IOException {
        restoreRefused("backup-hostile-empty", new byte[0], 5, "backup-hostile-empty");
    }

    @Test
    void truncatedOpenPgpMessage() throws IOException {
        restoreRefused("backup-hostile-truncated", Arrays.copyOf(goodData, goodData.length / 2), 5,
                "backup-hostile-truncated");
    }

    @Test
    void validMessageHoldingSomethingThatIsNotATar() throws IOException {
        byte[] text = "this is not a tar archive, just text\n".repeat(400).getBytes(StandardCharsets.UTF_8);
        restoreRefused("backup-hostile-nontar", OpenPgp.encrypt(text, SECRET), 5, "backup-hostile-nontar");
    }

    @Test
    void tarWithACorruptHeader() throws IOException {
        byte[] t = tar(x -> file(x, liveMedia("ab/cd/corrupt"), "data".getBytes(StandardCharsets.UTF_8)));
        // The mode field (offset 100) holds garbage instead of octal digits; checksum made to match.
        int header = findHeader(t, "corrupt");
        System.arraycopy("zz?!zz?\0".getBytes(StandardCharsets.US_ASCII), 0, t, header + 100, 8);
        fixChecksum(t, header);
        restoreRefused("backup-hostile-badheader", OpenPgp.encrypt(t, SECRET), 5, "backup-hostile-badheader",
                "corrupt tar header");
    }

    @Test
    void tarEntryClaimingAnAbsurdSize() throws IOException {
        byte[] t = tar(x -> file(x, liveMedia("ab/cd/huge"), "small".getBytes(StandardCharsets.UTF_8)));
        // Size field (offset 124, 12 bytes) set to the octal maximum, checksum fixed: 64 GiB claimed.
        byte[] size = "77777777777\0".getBytes(StandardCharsets.US_ASCII);
        int header = findHeader(t, "huge");
        System.arraycopy(size, 0, t, header + 124, 12);
        fixChecksum(t, header);
        restoreRefused("backup-hostile-hugesize", OpenPgp.encrypt(t, SECRET), 5, "backup-hostile-hugesize", "truncated");
    }

    @Test
    void entryNameWithNul() throws IOException {
        // Long enough for a pax "path" record, which (unlike the ustar name field) can carry a NUL.
        byte[] t = tar(x -> file(x, liveMedia("ab/cd/" + "n".repeat(120) + "\0evil"), "x".getBytes(StandardCharsets.UTF_8)));
        restoreRefused("backup-hostile-nul", OpenPgp.encrypt(t, SECRET), 5, "refusing archive entry", "NUL");
    }

    @Test
    void entryNameWithDotDotOutOfTheRoots() throws IOException {
        byte[] t = tar(x -> file(x, liveMedia("../../../../../../../../../tmp/escaped-hostile"),
                "x".getBytes(StandardCharsets.UTF_8)));
        restoreRefused("backup-hostile-dotdot", OpenPgp.encrypt(t, SECRET), 5, "refusing archive entry");
        assertThat(Path.of("/tmp/escaped-hostile")).doesNotExist();
    }

    private byte[] manifestWith(UnaryOperator<ObjectNode> lie) throws IOException {
        byte[] plain = OpenPgp.decrypt(Files.readAllBytes(repo.resolve(goodId + ".manifest")), SECRET);
        ObjectMapper json = new ObjectMapper();
        ObjectNode m = (ObjectNode) json.readTree(plain);
        lie.apply(m);
        return OpenPgp.encrypt(json.writeValueAsBytes(m), SECRET);
    }

    private void manifestLieRefused(String what, UnaryOperator<ObjectNode> lie) throws IOException {
        Path manifest = repo.resolve(goodId + ".manifest");
        byte[] honest = Files.readAllBytes(manifest);
        Files.write(manifest, manifestWith(lie));
        try {
            assertCleanRefusal(cli("restore", goodId), 5, goodId);
            assertCleanRefusal(cli("verify", goodId), 5, goodId);
        } finally {
            Files.write(manifest, honest);
        }
    }

    private static ObjectNode lastMediaFile(ObjectNode m) {
        ArrayNode files = (ArrayNode) m.get("files");
        for (int i = files.size() - 1; i >= 0; i--) {
            if (files.get(i).get("path").asText().contains("local_content")) {
                return (ObjectNode) files.get(i);
            }
        }
        throw new AssertionError("no media in the manifest");
    }

    @Test
    void manifestLyingAboutASize() throws IOException {
        manifestLieRefused("size", m -> {
            ObjectNode f = lastMediaFile(m);
            f.put("size", f.get("size").asLong() + 1);
            return m;
        });
    }

    @Test
    void manifestLyingAboutAHash() throws IOException {
        manifestLieRefused("sha256", m -> {
            lastMediaFile(m).put("sha256", "0".repeat(64));
            return m;
        });
    }

    @Test
    void manifestListingAFileTheArchiveDoesNotHold() throws IOException {
        manifestLieRefused("extra file", m -> {
            ObjectNode extra = lastMediaFile(m).deepCopy();
            extra.put("path", extra.get("path").asText() + "-phantom");
            ((ArrayNode) m.get("files")).add(extra);
            m.put("file-count", m.get("file-count").asLong() + 1);
            return m;
        });
    }

    @Test
    void manifestThatIsNotJson() throws IOException {
        Path manifest = repo.resolve(goodId + ".manifest");
        byte[] honest = Files.readAllBytes(manifest);
        Files.write(manifest, OpenPgp.encrypt("{\"format\": 1, \"files\": [".getBytes(StandardCharsets.UTF_8), SECRET));
        try {
            assertCleanRefusal(cli("restore", goodId), 5, "the manifest is not valid");
        } finally {
            Files.write(manifest, honest);
        }
    }

    @Test
    void stackTraceOnlyWithVerbose() throws IOException {
        byte[] junk = new byte[1000];
        new Random(2).nextBytes(junk);
        Files.write(repo.resolve("backup-hostile-verbose"), junk);
        try {
            Cli.Result quiet = cli("verify", "backup-hostile-verbose");
            Cli.Result verbose = cli("verify", "backup-hostile-verbose", "--verbose");
            assertThat(quiet.stderr()).doesNotContain("\tat ");
            assertThat(verbose.exitCode()).isEqualTo(quiet.exitCode()).isEqualTo(5);
            assertThat(verbose.stderr()).contains("\tat ");
        } finally {
            Files.delete(repo.resolve("backup-hostile-verbose"));
        }
    }

    // ---- hostile homeserver.yaml ----

    private void hostileYamlRefused(String name, String content, String... phrases) throws IOException {
        Path bad = tmp.resolve("yaml-" + name).resolve("homeserver.yaml");
        Files.createDirectories(bad.getParent());
        Files.writeString(bad, content);
        Cli.Result r = cli("create", "--synapse-config", bad.toString());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).doesNotContain("\tat ").contains(bad.toString());
        assertThat(r.stderr().strip().lines().filter(l -> !l.startsWith("Backup:")).count()).as(r.toString()).isEqualTo(1);
        for (String p : phrases) {
            assertThat(r.stderr()).contains(p);
        }
        try (Stream<Path> s = Files.list(repo)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(goodId) && !n.startsWith(".")))
                    .as("no backup written").isEmpty();
        }
    }

    @Test
    void yamlBombIsRefused() throws IOException {
        StringBuilder y = new StringBuilder("server_name: a.org\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 12; i++) {
            y.append('a').append(i).append(": &a").append(i).append(" [");
            for (int j = 0; j < 9; j++) {
                y.append(j == 0 ? "" : ", ").append("*a").append(i - 1);
            }
            y.append("]\n");
        }
        // SnakeYAML's alias limit, not memory or patience, ends the parse: nothing is expanded.
        hostileYamlRefused("bomb", y.toString(), "Number of aliases for non-scalar nodes exceeds the specified max=50");
    }

    @Test
    void recursiveAliasIsRefused() throws IOException {
        hostileYamlRefused("recursive", "server_name: a.org\n&a [*a]: 1\n", "Recursive key for mapping is detected");
    }

    @Test
    void unknownTypesAreRefused() throws IOException {
        hostileYamlRefused("python-tag", "server_name: !!python/object/apply:os.system [\"touch /tmp/pwned\"]\n");
        hostileYamlRefused("java-tag", "server_name: a.org\nx: !!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://127.0.0.1:1/\"]]]]\n");
        assertThat(Path.of("/tmp/pwned")).doesNotExist();
    }

    @Test
    void malformedYamlIsRefusedNamingTheFile() throws IOException {
        hostileYamlRefused("malformed", "server_name: a.org\nmedia_store_path: [unclosed\n");
    }

    @Test
    void wrongTypesAreRefusedNamingTheKey() throws IOException {
        hostileYamlRefused("wrong-type", "server_name: [not, a, string]\n", "server_name");
    }

    @Test
    void absurdNestingIsRefused() throws IOException {
        hostileYamlRefused("nesting", "server_name: a.org\nx: " + "[".repeat(5000) + "]".repeat(5000) + "\n",
                "Nesting Depth exceeded max 50");
    }

    // ---- helpers for hand-made tar headers ----

    static int findHeader(byte[] tar, String nameSuffix) {
        for (int off = 0; off + 512 <= tar.length; off += 512) {
            if (tar[off + 156] == 'x' || tar[off + 156] == 'g') {
                continue; // a pax header, not the entry's own
            }
            String name = new String(tar, off, 100, StandardCharsets.ISO_8859_1);
            int nul = name.indexOf('\0');
            if ((nul < 0 ? name : name.substring(0, nul)).endsWith(nameSuffix)) {
                return off;
            }
        }
        throw new AssertionError("no header for " + nameSuffix);
    }

    static void fixChecksum(byte[] tar, int header) {
        Arrays.fill(tar, header + 148, header + 156, (byte) ' ');
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += tar[header + i] & 0xff;
        }
        byte[] field = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(field, 0, tar, header + 148, 8);
    }
}
