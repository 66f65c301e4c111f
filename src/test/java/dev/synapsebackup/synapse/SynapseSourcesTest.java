package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.ConfigException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynapseSourcesTest {
    @TempDir
    Path tmp;

    Path hs;
    Path media;

    @BeforeEach
    void layout() throws Exception {
        media = tmp.resolve("media");
        hs = tmp.resolve("etc/homeserver.yaml");
        Files.createDirectories(hs.getParent());
        Files.writeString(tmp.resolve("etc/a.org.signing.key"), "ed25519 a_abcd AAAA\n");
        Files.writeString(tmp.resolve("etc/log.config"), "version: 1\n");
        Files.writeString(tmp.resolve("etc/bridge.yaml"), "id: bridge\n");
        Files.writeString(hs, """
                server_name: a.org
                media_store_path: %s
                log_config: %s
                app_service_config_files: [%s, %s]
                database: {name: sqlite3, args: {database: %s}}
                """.formatted(media, tmp.resolve("etc/log.config"), tmp.resolve("etc/bridge.yaml"),
                tmp.resolve("etc/missing-bridge.yaml"), tmp.resolve("hs.db")));
        for (String f : List.of("local_content/zz/yy/last", "local_content/ab/cd/efgh", "local_content/ab/cd/Abc",
                "local_content/ab/aa/x1", "local_thumbnails/ab/cd/efgh/32-32-image-png-crop",
                "remote_content/matrix.org/ab/cd/ef", "remote_thumbnail/matrix.org/ab/cd/ef/32-32-image-png-crop",
                "url_cache/2024-01-01/abc", "url_cache_thumbnails/2024-01-01/abc/32-32-image-png-crop")) {
            Path p = media.resolve(f);
            Files.createDirectories(p.getParent());
            Files.writeString(p, f);
        }
    }

    private HomeserverConfig cfg() {
        return HomeserverConfig.load(List.of(hs), tmp);
    }

    private List<String> walk(SynapseSources s) {
        return s.media().map(e -> media.relativize(e.path()) + (e.isDirectory() ? "/" : "")).toList();
    }

    @Test
    void rolesAndConfigFiles() {
        SynapseSources s = SynapseSources.of(cfg(), false);
        assertThat(s.serverName()).isEqualTo("a.org");
        assertThat(s.configFiles()).containsExactly(hs, tmp.resolve("etc/log.config"), tmp.resolve("etc/bridge.yaml"));
        assertThat(s.signingKeys()).containsExactly(tmp.resolve("etc/a.org.signing.key"));
        assertThat(s.database()).isEqualTo(new DatabaseConfig.Sqlite(tmp.resolve("hs.db")));
        assertThat(s.mediaStore()).isEqualTo(media);
        assertThat(s.mediaRoots()).containsExactly(media.resolve("local_content"), media.resolve("local_thumbnails"));
        Map<String, List<String>> roles = s.roles();
        assertThat(roles.keySet()).containsExactly("config", "signing-key", "database", "media");
        assertThat(roles.get("database")).containsExactly(tmp.resolve("hs.db").toString());
        assertThat(roles.get("media")).containsExactly(media.resolve("local_content").toString(),
                media.resolve("local_thumbnails").toString());
        assertThat(roles.get("signing-key")).containsExactly(tmp.resolve("etc/a.org.signing.key").toString());
    }

    @Test
    void missingLogConfigIsOnlyAWarning() throws Exception {
        Files.delete(tmp.resolve("etc/log.config"));
        assertThat(SynapseSources.of(cfg(), false).configFiles()).containsExactly(hs, tmp.resolve("etc/bridge.yaml"));
    }

    @Test
    void missingSigningKeyIsAnError() throws Exception {
        Path key = tmp.resolve("etc/a.org.signing.key");
        Files.delete(key);
        assertThatThrownBy(() -> SynapseSources.of(cfg(), false))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(key.toString())
                .hasMessageContaining("signing_key_path");
    }

    @Test
    void walkIsSortedAndSkipsCachesAndRemoteByDefault() {
        assertThat(walk(SynapseSources.of(cfg(), false))).containsExactly(
                "local_content/", "local_content/ab/", "local_content/ab/aa/", "local_content/ab/aa/x1",
                "local_content/ab/cd/", "local_content/ab/cd/Abc", "local_content/ab/cd/efgh",
                "local_content/zz/", "local_content/zz/yy/", "local_content/zz/yy/last",
                "local_thumbnails/", "local_thumbnails/ab/", "local_thumbnails/ab/cd/", "local_thumbnails/ab/cd/efgh/",
                "local_thumbnails/ab/cd/efgh/32-32-image-png-crop");
    }

    /** A name that is not valid UTF-8 (made by a shell) is walked, and read back under its raw bytes. */
    @Test
    void aFileNameThatIsNotUtf8IsStillWalked() throws Exception {
        Path dir = media.resolve("local_content/ab/cd");
        Process p = new ProcessBuilder("sh", "-c", "printf 'raw' > \"$(printf 'bad\\377name')\"")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        assertThat(p.waitFor()).isZero();
        List<MediaEntry> seen = new ArrayList<>();
        SynapseSources.of(cfg(), false).walkMedia(seen::add);
        List<MediaEntry> odd = seen.stream().filter(e -> e.path().getParent().equals(dir)
                && e.path().getFileName().toString().startsWith("bad")).toList();
        assertThat(odd).hasSize(1);
        assertThat(Files.readString(odd.get(0).path())).isEqualTo("raw");
        // the rest of that directory is still there, in order
        assertThat(seen.stream().filter(e -> dir.equals(e.path().getParent())).map(e -> e.path().getFileName().toString())
                .filter(n -> !n.startsWith("bad"))).containsExactly("Abc", "efgh");
    }

    @Test
    void remoteMediaOnlyWithTheFlagAndUrlCacheNever() {
        SynapseSources s = SynapseSources.of(cfg(), true);
        assertThat(s.mediaRoots()).extracting(p -> p.getFileName().toString())
                .containsExactly("local_content", "local_thumbnails", "remote_content", "remote_thumbnail");
        List<String> all = walk(s);
        assertThat(all).contains("remote_content/matrix.org/ab/cd/ef",
                "remote_thumbnail/matrix.org/ab/cd/ef/32-32-image-png-crop");
        assertThat(all).noneMatch(p -> p.startsWith("url_cache"));
        // Deterministic and in path order.
        assertThat(walk(SynapseSources.of(cfg(), true))).isEqualTo(all);
        List<String> sorted = new ArrayList<>(all);
        sorted.sort(Comparator.comparing(p -> p.endsWith("/") ? p.substring(0, p.length() - 1) : p));
        assertThat(all).isEqualTo(sorted);
        assertThat(SynapseSources.of(cfg(), false).media().map(e -> e.path().toString()))
                .noneMatch(p -> p.contains("remote_"));
    }

    @Test
    void visitorSeesDirectoriesBeforeTheirFilesWithAttributes() throws Exception {
        List<MediaEntry> seen = new ArrayList<>();
        SynapseSources.of(cfg(), false).walkMedia(seen::add);
        assertThat(seen.get(0).path()).isEqualTo(media.resolve("local_content"));
        assertThat(seen.get(0).isDirectory()).isTrue();
        MediaEntry x1 = seen.stream().filter(e -> e.path().endsWith("x1")).findFirst().orElseThrow();
        assertThat(x1.size()).isEqualTo("local_content/ab/aa/x1".length());
        // One lstat, as numbers: what an incremental compares with the parent's record.
        Map<String, Object> a = Files.readAttributes(x1.path(), "unix:mode,uid,gid,ctime,lastModifiedTime",
                LinkOption.NOFOLLOW_LINKS);
        assertThat(x1.mode()).isEqualTo((Integer) a.get("mode") & 07777);
        assertThat(x1.uid()).isEqualTo(a.get("uid"));
        assertThat(x1.gid()).isEqualTo(a.get("gid"));
        assertThat(x1.ctime()).isEqualTo(a.get("ctime"));
        assertThat(x1.lastModified()).isEqualTo(a.get("lastModifiedTime"));
        assertThat(seen.get(0).ctime()).isNotNull();
    }

    @Test
    void vanishedFilesAndDirectoriesAreTolerated() throws Exception {
        Iterator<MediaEntry> it = SynapseSources.of(cfg(), false).mediaIterator();
        List<String> seen = new ArrayList<>();
        while (it.hasNext()) {
            MediaEntry e = it.next();
            seen.add(media.relativize(e.path()).toString());
            if (e.path().endsWith("Abc")) {
                // Deleted after their directory was listed, before they are reached.
                Files.delete(media.resolve("local_content/ab/cd/efgh"));
                deleteTree(media.resolve("local_content/zz"));
                deleteTree(media.resolve("local_thumbnails"));
            }
        }
        assertThat(seen).containsExactly("local_content", "local_content/ab", "local_content/ab/aa",
                "local_content/ab/aa/x1", "local_content/ab/cd", "local_content/ab/cd/Abc");
    }

    @Test
    void symlinksAreSkipped() throws Exception {
        Path outside = Files.writeString(tmp.resolve("secret.txt"), "not media");
        Files.createSymbolicLink(media.resolve("local_content/ab/cd/link"), outside);
        Files.createSymbolicLink(media.resolve("local_content/ab/dirlink"), tmp.resolve("etc"));
        List<String> all = walk(SynapseSources.of(cfg(), false));
        assertThat(all).noneMatch(p -> p.contains("link"));
        assertThat(all).contains("local_content/ab/cd/efgh");
    }

    @Test
    void missingMediaStoreGivesNoRoots() throws Exception {
        deleteTree(media);
        SynapseSources s = SynapseSources.of(cfg(), true);
        assertThat(s.mediaRoots()).isEmpty();
        assertThat(s.media()).isEmpty();
        assertThat(s.roles().get("media")).isEmpty();
    }

    @Test
    void postgresHasNoDatabaseRole() throws Exception {
        Files.writeString(hs, "server_name: a.org\nsigning_key_path: " + tmp.resolve("etc/a.org.signing.key")
                + "\ndatabase: {name: psycopg2, args: {database: synapse, password: pw-123}}\n");
        SynapseSources s = SynapseSources.of(cfg(), false);
        assertThat(s.roles()).doesNotContainKey("database");
        assertThat(s.database()).isInstanceOf(DatabaseConfig.Postgres.class);
        assertThat(s.toString()).doesNotContain("pw-123");
    }

    private static void deleteTree(Path root) throws Exception {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
