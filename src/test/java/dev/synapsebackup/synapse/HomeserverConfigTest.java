package dev.synapsebackup.synapse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HomeserverConfigTest {
    @TempDir
    Path tmp;

    private Path write(String name, String yaml) throws Exception {
        Path p = tmp.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, yaml);
        return p;
    }

    @Test
    void s3MediaProvidersAreDiscoveredAndTheirSecretsNeverShown() throws Exception {
        Path hs = write("etc/homeserver.yaml", """
                server_name: example.org
                media_storage_providers:
                - module: file_system
                  store_local: true
                  config: {directory: /mnt/media}
                - module: s3_storage_provider.S3StorageProviderBackend
                  store_local: false
                  store_remote: true
                  store_synchronous: true
                  config:
                    bucket: synapse-media
                    region_name: eu-west-1
                    endpoint_url: https://s3.example.com
                    access_key_id: AKIAEXAMPLE
                    secret_access_key: very-secret-key-value
                    session_token: very-secret-token-value
                    prefix: media/
                    storage_class: STANDARD_IA
                - module: s3_storage_provider.S3StorageProviderBackend
                  config: {bucket: other-media}
                """);
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs), tmp);
        assertThat(cfg.s3MediaProviders()).hasSize(2);
        S3MediaProvider p = cfg.s3MediaProviders().get(0);
        assertThat(p.bucket()).isEqualTo("synapse-media");
        assertThat(p.prefix()).isEqualTo("media/");
        assertThat(p.storeLocal()).isFalse();
        assertThat(p.storeRemote()).isTrue();
        assertThat(p.storeSynchronous()).isTrue();
        assertThat(p.storageClass()).isEqualTo("STANDARD_IA");
        assertThat(p.hasCredentials()).isTrue();
        assertThat(p.keyPrefixes(false)).containsExactly("media/local_content/", "media/local_thumbnails/");
        assertThat(p.keyPrefixes(true)).hasSize(4);
        assertThat(p.toParameters().endpoint()).contains("https://s3.example.com");
        assertThat(p.toParameters().addressingStyle()).isEqualTo(dev.synapsebackup.config.S3Parameters.AddressingStyle.PATH);
        String shown = cfg.toString() + p + p.toParameters();
        assertThat(shown).contains("synapse-media").doesNotContain("very-secret-key-value")
                .doesNotContain("very-secret-token-value");
        S3MediaProvider aws = cfg.s3MediaProviders().get(1);
        assertThat(aws.hasCredentials()).isFalse(); // the AWS default chain
        assertThat(aws.storeLocal()).isTrue();
        assertThat(aws.toParameters().effectiveRegion()).isEqualTo("us-east-1");
        assertThat(aws.toParameters().addressingStyle()).isEqualTo(dev.synapsebackup.config.S3Parameters.AddressingStyle.VIRTUAL);

        Path bad = write("bad/homeserver.yaml", """
                server_name: example.org
                media_storage_providers:
                - module: s3_storage_provider.S3StorageProviderBackend
                  config: {secret_access_key: [very-secret-key-value]}
                """);
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(bad), tmp))
                .hasMessageContaining("media_storage_providers[0].config").hasMessageNotContaining("very-secret");
    }

    @Test
    void defaultsResolveAgainstWorkingDirAndLastConfigDir() throws Exception {
        Path hs = write("etc/homeserver.yaml", "server_name: example.org\nreport_stats: false\n");
        Path wd = tmp.resolve("var/lib/synapse");
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs), wd);
        assertThat(cfg.serverName()).isEqualTo("example.org");
        assertThat(cfg.configFiles()).containsExactly(hs);
        assertThat(cfg.signingKeyPath()).isEqualTo(tmp.resolve("etc/example.org.signing.key"));
        assertThat(cfg.mediaStorePath()).isEqualTo(wd.resolve("media_store"));
        assertThat(cfg.database()).isEqualTo(new DatabaseConfig.Sqlite(wd.resolve("homeserver.db")));
        assertThat(cfg.logConfig()).isEmpty();
        assertThat(cfg.pidFile()).isEmpty();
        assertThat(cfg.appServiceConfigFiles()).isEmpty();
    }

    @Test
    void relativePathsAreRelativeToWorkingDirNotConfigFile() throws Exception {
        Path hs = write("etc/homeserver.yaml", """
                server_name: example.org
                media_store_path: data/../media
                signing_key_path: keys/hs.key
                log_config: "log.yaml"
                pid_file: homeserver.pid
                app_service_config_files: [as/a.yaml, /abs/b.yaml]
                database:
                  name: sqlite3
                  args:
                    database: db/homeserver.db
                """);
        Path wd = tmp.resolve("wd");
        HomeserverConfig cfg = HomeserverConfig.load(List.of(Path.of("etc/homeserver.yaml")), tmp);
        assertThat(cfg.configFiles()).containsExactly(hs);
        cfg = HomeserverConfig.load(List.of(hs), wd);
        assertThat(cfg.mediaStorePath()).isEqualTo(wd.resolve("media"));
        assertThat(cfg.signingKeyPath()).isEqualTo(wd.resolve("keys/hs.key"));
        assertThat(cfg.logConfig()).contains(wd.resolve("log.yaml"));
        assertThat(cfg.pidFile()).contains(wd.resolve("homeserver.pid"));
        assertThat(cfg.appServiceConfigFiles()).containsExactly(wd.resolve("as/a.yaml"), Path.of("/abs/b.yaml"));
        assertThat(cfg.database()).isEqualTo(new DatabaseConfig.Sqlite(wd.resolve("db/homeserver.db")));
    }

    @Test
    void confDBesideHomeserverYamlIsMergedInSortedOrder() throws Exception {
        Path hs = write("etc/homeserver.yaml", "server_name: a.org\nmedia_store_path: /m0\npid_file: /p0\n");
        Path d1 = write("etc/conf.d/20-b.yaml", "media_store_path: /m2\n");
        Path d0 = write("etc/conf.d/10-a.yaml", "media_store_path: /m1\nserver_name: b.org\n");
        write("etc/conf.d/README", "not yaml: [");
        Files.createDirectories(tmp.resolve("etc/conf.d/sub.yaml"));
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs), tmp);
        assertThat(cfg.configFiles()).containsExactly(hs, d0, d1);
        assertThat(cfg.serverName()).isEqualTo("b.org");
        assertThat(cfg.mediaStorePath()).isEqualTo(Path.of("/m2"));
        assertThat(cfg.pidFile()).contains(Path.of("/p0"));
        // Synapse's config dir is the directory of the last file read.
        assertThat(cfg.signingKeyPath()).isEqualTo(tmp.resolve("etc/conf.d/b.org.signing.key"));
    }

    @Test
    void confDGivenExplicitlyIsNotReadTwice() throws Exception {
        Path hs = write("etc/homeserver.yaml", "server_name: a.org\n");
        Path d0 = write("etc/conf.d/10-a.yaml", "pid_file: /p1\n");
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs, tmp.resolve("etc/conf.d")), tmp);
        assertThat(cfg.configFiles()).containsExactly(hs, d0);
    }

    @Test
    void directoryAndMultipleConfigPaths() throws Exception {
        Path a = write("cfg/01-base.yaml", "server_name: a.org\nmedia_store_path: /a\n");
        Path b = write("cfg/02-media.yaml", "media_store_path: /b\n");
        write("cfg/notes.txt", "ignored");
        Path extra = write("extra/override.yaml", "media_store_path: /c\n");
        HomeserverConfig cfg = HomeserverConfig.load(List.of(tmp.resolve("cfg")), tmp);
        assertThat(cfg.configFiles()).containsExactly(a, b);
        assertThat(cfg.mediaStorePath()).isEqualTo(Path.of("/b"));
        cfg = HomeserverConfig.load(List.of(tmp.resolve("cfg"), extra), tmp);
        assertThat(cfg.configFiles()).containsExactly(a, b, extra);
        assertThat(cfg.mediaStorePath()).isEqualTo(Path.of("/c"));
    }

    @Test
    void postgresWithDbnameOrDatabase() throws Exception {
        Path hs = write("homeserver.yaml", """
                server_name: a.org
                database:
                  name: psycopg2
                  args:
                    user: synapse
                    password: "s3cr3t-pw"
                    database: synapse_db
                    host: db.internal
                    port: "6432"
                    sslmode: require
                    cp_min: 5
                    cp_max: 10
                """);
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs), tmp);
        DatabaseConfig.Postgres pg = (DatabaseConfig.Postgres) cfg.database();
        assertThat(pg.host()).isEqualTo("db.internal");
        assertThat(pg.port()).isEqualTo(6432);
        assertThat(pg.user()).isEqualTo("synapse");
        assertThat(pg.dbname()).isEqualTo("synapse_db");
        assertThat(pg.password().revealString()).isEqualTo("s3cr3t-pw");
        assertThat(pg.otherArgs()).isEqualTo(Map.of("sslmode", "require"));
        assertThat(pg.toString()).doesNotContain("s3cr3t-pw");
        assertThat(cfg.toString()).doesNotContain("s3cr3t-pw").contains("a.org");

        write("homeserver.yaml", """
                server_name: a.org
                database:
                  name: psycopg2
                  args: {dbname: other, password: 12345}
                """);
        pg = (DatabaseConfig.Postgres) HomeserverConfig.load(List.of(hs), tmp).database();
        assertThat(pg.dbname()).isEqualTo("other");
        assertThat(pg.port()).isEqualTo(5432);
        assertThat(pg.host()).isNull();
        assertThat(pg.password().revealString()).isEqualTo("12345");
    }

    @Test
    void databasesWithOneEntry() throws Exception {
        Path hs = write("homeserver.yaml", """
                server_name: a.org
                databases:
                  main_db:
                    name: psycopg2
                    data_stores: [main, state]
                    args: {database: synapse, user: u, password: hidden-pw}
                """);
        DatabaseConfig.Postgres pg = (DatabaseConfig.Postgres) HomeserverConfig.load(List.of(hs), tmp).database();
        assertThat(pg.dbname()).isEqualTo("synapse");
        assertThat(pg.user()).isEqualTo("u");
    }

    @Test
    void databasesWithSeveralEntriesIsRefused() throws Exception {
        Path hs = write("homeserver.yaml", """
                server_name: a.org
                databases:
                  main_db: {name: psycopg2, data_stores: [main], args: {database: a, password: pw-one}}
                  state_db: {name: psycopg2, data_stores: [state], args: {database: b, password: pw-two}}
                """);
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("databases")
                .hasMessageContaining("multi-database")
                .hasMessageContaining(hs.toString())
                .hasMessageNotContaining("pw-one");
    }

    @Test
    void legacyDatabasePathAndMemoryDatabase() throws Exception {
        Path hs = write("homeserver.yaml", "server_name: a.org\ndatabase_path: old.db\n");
        assertThat(HomeserverConfig.load(List.of(hs), tmp).database())
                .isEqualTo(new DatabaseConfig.Sqlite(tmp.resolve("old.db")));
        write("homeserver.yaml", "server_name: a.org\ndatabase: {name: sqlite3, args: {database: ':memory:'}}\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class).hasMessageContaining("in-memory");
        write("homeserver.yaml", "server_name: a.org\ndatabase: {name: mysql}\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class).hasMessageContaining("database.name");
    }

    @Test
    void badPostgresPortNamesKeyButNotPassword() throws Exception {
        Path hs = write("homeserver.yaml", """
                server_name: a.org
                database: {name: psycopg2, args: {password: "pw-xyz", port: "fifty"}}
                """);
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("database.args.port")
                .hasMessageContaining(hs.toString())
                .hasMessageNotContaining("pw-xyz");
        write("homeserver.yaml", "server_name: a.org\ndatabase: {name: psycopg2, args: {password: [pw-abc]}}\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("database.args.password")
                .hasMessageNotContaining("pw-abc");
    }

    @Test
    void missingServerName() throws Exception {
        Path hs = write("homeserver.yaml", "media_store_path: /m\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("server_name")
                .hasMessageContaining(hs.toString());
    }

    @Test
    void wrongTypesNameFileAndKey() throws Exception {
        Path base = write("homeserver.yaml", "server_name: a.org\n");
        Path over = write("conf.d/bad.yaml", "media_store_path: [1, 2]\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(base), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("media_store_path")
                .hasMessageContaining(over.toString())
                .hasMessageContaining("list");
        Files.delete(over);
        write("homeserver.yaml", "server_name: 5\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(base), tmp))
                .isInstanceOf(ConfigException.class).hasMessageContaining("server_name");
        write("homeserver.yaml", "server_name: a.org\napp_service_config_files: /one/file.yaml\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(base), tmp))
                .isInstanceOf(ConfigException.class).hasMessageContaining("app_service_config_files");
        write("homeserver.yaml", "server_name: a.org\ndatabase: sqlite3\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(base), tmp))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"database\" must be a mapping");
    }

    @Test
    void missingFileIsNamed() {
        Path missing = tmp.resolve("nope/homeserver.yaml");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(missing), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void unparsableYamlNamesFileAndLine() throws Exception {
        Path hs = write("homeserver.yaml", "server_name: a.org\nlisteners:\n  - port: 8008\n    bad: [unclosed\nfoo: bar\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(hs.toString())
                .hasMessageMatching("(?s).*line [45].*");
    }

    @Test
    void customTagsAreRefused() throws Exception {
        Path hs = write("homeserver.yaml", "server_name: !!python/object:os.system [ls]\n");
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(hs.toString());
    }

    @Test
    void billionLaughsIsRefusedQuickly() throws Exception {
        StringBuilder y = new StringBuilder("server_name: a.org\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 10; i++) {
            y.append('a').append(i).append(": &a").append(i).append(" [");
            for (int j = 0; j < 9; j++) {
                y.append(j == 0 ? "" : ", ").append("*a").append(i - 1);
            }
            y.append("]\n");
        }
        Path hs = write("homeserver.yaml", y.toString());
        // Refused by the alias limit, before any expansion (not by running out of memory or time).
        assertThatThrownBy(() -> HomeserverConfig.load(List.of(hs), tmp))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(hs.toString())
                .hasMessageContaining("aliases");
    }

    @Test
    void emptyFileIsIgnoredLikeSynapse() throws Exception {
        Path hs = write("homeserver.yaml", "server_name: a.org\n");
        Path empty = write("conf.d/empty.yaml", "");
        HomeserverConfig cfg = HomeserverConfig.load(List.of(hs), tmp);
        assertThat(cfg.serverName()).isEqualTo("a.org");
        assertThat(cfg.configFiles()).containsExactly(hs, empty);
    }
}
