package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SampleHomeserverTest {
    @TempDir
    Path tmp;

    @Test
    void defaultTreeIsTinyLoadableAndComplete() throws Exception {
        Path hs = SampleHomeserver.generate(tmp.resolve("hs"), SampleHomeserver.Options.defaults());
        assertThat(hs).isEqualTo(tmp.resolve("hs/etc/homeserver.yaml"));
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs), Path.of("/nonexistent-wd"));
        assertThat(cfg.serverName()).isEqualTo(SampleHomeserver.SERVER_NAME);
        assertThat(cfg.signingKeyPath()).isEqualTo(tmp.resolve("hs/etc/sample.example.org.signing.key"));
        assertThat(cfg.logConfig()).contains(tmp.resolve("hs/etc/sample.example.org.log.config"));
        assertThat(cfg.pidFile()).contains(tmp.resolve("hs/data/homeserver.pid"));
        assertThat(cfg.database()).isEqualTo(new DatabaseConfig.Sqlite(tmp.resolve("hs/data/homeserver.db")));

        String key = Files.readString(cfg.signingKeyPath());
        assertThat(key).matches("ed25519 a_[A-Za-z]{4} [A-Za-z0-9+/]{43}\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(cfg.signingKeyPath())))
                .isEqualTo("rw-------");

        SynapseSources src = SynapseSources.of(cfg, true);
        assertThat(src.configFiles()).containsExactly(hs, cfg.logConfig().orElseThrow());
        assertThat(src.mediaRoots()).extracting(p -> p.getFileName().toString())
                .containsExactly("local_content", "local_thumbnails", "remote_content", "remote_thumbnail");
        List<MediaEntry> files = src.media().filter(e -> !e.isDirectory()).toList();
        assertThat(files.stream().filter(e -> e.path().toString().contains("/local_content/"))).hasSize(6);
        assertThat(files.stream().filter(e -> e.path().toString().contains("/local_thumbnails/"))).hasSize(2);
        assertThat(files.stream().filter(e -> e.path().toString().contains("/remote_thumbnail/"))).hasSize(2);
        for (MediaEntry e : files) {
            Path rel = src.mediaStore().relativize(e.path());
            if (rel.startsWith("local_content")) {
                // local_content/ab/cd/rest-of-24-char-id
                assertThat(rel.getNameCount()).isEqualTo(4);
                assertThat(rel.getName(1).toString()).hasSize(2);
                assertThat(rel.getName(3).toString()).hasSize(20);
            }
            if (rel.startsWith("local_thumbnails")) {
                assertThat(rel.getFileName().toString()).isEqualTo(SampleHomeserver.THUMBNAIL_NAME);
            }
        }
        assertThat(src.mediaStore().resolve("url_cache")).isDirectory();
        assertThat(src.mediaStore().resolve("url_cache_thumbnails")).isDirectory();
        long total = treeSize(tmp.resolve("hs"));
        assertThat(total).isLessThan(1024 * 1024);

        SqliteSnapshot.Result snap = SqliteSnapshot.snapshot(((DatabaseConfig.Sqlite) cfg.database()).path(),
                tmp.resolve("snap.db"));
        assertThat(snap.ok()).isTrue();
        assertThat(snap.schemaVersion()).isEqualTo(88);
    }

    @Test
    void sizesFollowOptionsAndContentIsIncompressible() throws Exception {
        long target = 40L * 1024 * 1024;
        SampleHomeserver.Options opts = SampleHomeserver.Options.defaults().withMedia(200, target).withDbSizeMb(2);
        Path hs = SampleHomeserver.generate(tmp.resolve("hs"), opts);
        SynapseSources src = SynapseSources.of(HomeserverConfig.load(List.of(hs), tmp), false);
        long local = src.media().filter(e -> !e.isDirectory()).mapToLong(MediaEntry::size).sum();
        assertThat(local).isBetween(target * 95 / 100, target * 105 / 100);
        assertThat(src.media().filter(e -> !e.isDirectory() && e.path().toString().contains("/local_content/")))
                .hasSize(200);
        long db = Files.size(tmp.resolve("hs/data/homeserver.db"));
        assertThat(db).isBetween(2L * 1024 * 1024, 4L * 1024 * 1024);

        Path biggest = src.media().filter(e -> !e.isDirectory())
                .max((a, b) -> Long.compare(a.size(), b.size())).orElseThrow().path();
        byte[] sample = new byte[64 * 1024];
        try (var in = Files.newInputStream(biggest)) {
            assertThat(in.readNBytes(sample, 0, sample.length)).isEqualTo(sample.length);
        }
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION);
        d.setInput(sample);
        d.finish();
        byte[] out = new byte[sample.length * 2];
        int compressed = d.deflate(out);
        d.end();
        assertThat(compressed).isGreaterThan(sample.length * 99 / 100);
    }

    @Test
    void sameSeedSameTree() throws Exception {
        SampleHomeserver.generate(tmp.resolve("a"), SampleHomeserver.Options.defaults());
        SampleHomeserver.generate(tmp.resolve("b"), SampleHomeserver.Options.defaults());
        SampleHomeserver.generate(tmp.resolve("c"), SampleHomeserver.Options.defaults().withSeed(7));
        assertThat(mediaDigest(tmp.resolve("a"))).isEqualTo(mediaDigest(tmp.resolve("b")))
                .isNotEqualTo(mediaDigest(tmp.resolve("c")));
    }

    private static String mediaDigest(Path root) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        Path media = root.resolve("data/media_store");
        try (Stream<Path> s = Files.walk(media)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                md.update(media.relativize(p).toString().getBytes());
                md.update(Files.readAllBytes(p));
                md.update(Long.toString(Files.getLastModifiedTime(p).toMillis()).getBytes());
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static long treeSize(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).sum();
        }
    }
}
