package dev.synapsebackup.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    private Path write(String yaml) throws Exception {
        Path f = dir.resolve("config.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    private static ConfigOverrides file(Path f) {
        return new ConfigOverrides(f, List.of(), null, null, null, null, null, null, null);
    }

    @Test
    void fullFileIsRead() throws Exception {
        Path f = write("""
                synapse-config: /etc/matrix-synapse/homeserver.yaml
                s3:
                  access-key: AKIAEXAMPLE
                  secret-key: verysecret
                  region: eu-west-1
                  endpoint: https://s3.example.com
                  bucket: synapse-backups
                  path: /prod//synapse/
                  s3-uri-style: path
                passphrase-file: /etc/synapse-backup/passphrase
                service:
                  stop-command: [systemctl, stop, matrix-synapse.target]
                  start-command: [systemctl, start, matrix-synapse.target]
                full-every: 3d
                """);
        ToolConfig c = new ConfigLoader(Map.of(), null).load(file(f));
        S3Parameters s3 = c.s3().orElseThrow();
        assertThat(s3.bucket()).isEqualTo("synapse-backups");
        assertThat(s3.prefix()).isEqualTo("prod/synapse");
        assertThat(s3.addressingStyle()).isEqualTo(S3Parameters.AddressingStyle.PATH);
        assertThat(s3.endpoint()).contains("https://s3.example.com");
        assertThat(s3.secretKey().orElseThrow().revealString()).isEqualTo("verysecret");
        assertThat(s3.toString()).doesNotContain("verysecret").contains("AKIAEXAMPLE");
        assertThat(c.stopCommand()).containsExactly("systemctl", "stop", "matrix-synapse.target");
        assertThat(c.fullEvery()).isEqualTo(Duration.ofDays(3));
        assertThat(c.passphrase().orElseThrow().file()).contains(Path.of("/etc/synapse-backup/passphrase"));
        assertThat(c.repositoryDir()).isEmpty();
    }

    @Test
    void objectLockIsReadAndValidated() throws Exception {
        ConfigLoader l = new ConfigLoader(Map.of(), null);
        Path f = write("s3: {bucket: b, region: r, object-lock: {mode: Compliance, retain: 2w}}\n");
        S3Parameters s3 = l.load(file(f)).s3().orElseThrow();
        assertThat(s3.objectLock()).contains(new ObjectLock(ObjectLock.Mode.COMPLIANCE, Duration.ofDays(14)));
        assertThat(s3.toString()).contains("object-lock=compliance for 14d");
        assertThat(l.load(file(write("s3: {bucket: b, region: r}\n"))).s3().orElseThrow().objectLock()).isEmpty();

        String where = " in " + dir.resolve("config.yaml");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: strict, retain: 30d}}\n"))))
                .isInstanceOf(ConfigException.class)
                .hasMessage("\"s3.object-lock.mode" + where + "\" must be \"governance\" or \"compliance\", not \"strict\"");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: governance, retain: 30 days}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"s3.object-lock.retain" + where + "\" must be a duration");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: governance, retain: 0d}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessage("\"s3.object-lock.retain\"" + where
                        + " must be between 1d and 36525d (100 years), not 0d");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: compliance, retain: 12h}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("must be between 1d and 36525d");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: compliance, retain: 3000000d}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("must be between 1d and 36525d");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: compliance, retain: 99999999999999999999d}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessage("\"s3.object-lock.retain" + where
                        + "\" is too long a duration: \"99999999999999999999d\"");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: governance}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("\"s3.object-lock.retain\"" + where + " is required");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {retain: 30d}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("\"s3.object-lock.mode\"" + where + " is required");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: {mode: governance, retain: 1d, legal-hold: on}}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("unknown key \"s3.object-lock.legal-hold\"");
        assertThatThrownBy(() -> l.load(file(write("s3: {bucket: b, region: r, object-lock: governance}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("\"s3.object-lock\"" + where + " must be a mapping");
        // A local directory cannot retain anything.
        Path local = write("s3: {object-lock: {mode: governance, retain: 30d}}\nrepository: /var/backups/synapse\n");
        assertThatThrownBy(() -> l.load(file(local))).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("\"s3.object-lock\"" + where + " needs an S3 repository");
    }

    @Test
    void precedenceFlagsOverEnvironmentOverFile() throws Exception {
        Path f = write("""
                s3:
                  bucket: from-file
                  region: file-region
                  path: file-path
                """);
        Map<String, String> env = Map.of("SYNAPSE_BACKUP_BUCKET", "from-env", "AWS_REGION", "env-region",
                "SYNAPSE_BACKUP_PATH", "env-path");
        ConfigOverrides flags = new ConfigOverrides(f, List.of(), null, "from-flag", null, null, null, null, null);
        S3Parameters s3 = new ConfigLoader(env, null).load(flags).s3().orElseThrow();
        assertThat(s3.bucket()).isEqualTo("from-flag");
        assertThat(s3.region()).contains("env-region");
        assertThat(s3.path()).isEqualTo("env-path");
        assertThat(s3.addressingStyle()).isEqualTo(S3Parameters.AddressingStyle.VIRTUAL);
    }

    @Test
    void environmentKeyPairReplacesFileKeyPairAsAUnit() throws Exception {
        Path f = write("s3: {bucket: b, region: r, access-key: FILEKEY, secret-key: filesecret}\n");
        S3Parameters s3 = new ConfigLoader(Map.of("AWS_ACCESS_KEY_ID", "ENVKEY", "AWS_SECRET_ACCESS_KEY", "envsecret"), null)
                .load(file(f)).s3().orElseThrow();
        assertThat(s3.accessKey()).contains("ENVKEY");
        assertThat(s3.secretKey().orElseThrow().revealString()).isEqualTo("envsecret");
    }

    @Test
    void mediaCopyParallelismDefaultsTo8AndIsValidated() throws Exception {
        Path plain = write("repository: /var/backups/synapse\n");
        assertThat(new ConfigLoader(Map.of(), null).load(file(plain)).mediaCopyParallelism()).isEqualTo(8);
        Path set = write("repository: /var/backups/synapse\nmedia-copy-parallelism: 32\n");
        assertThat(new ConfigLoader(Map.of(), null).load(file(set)).mediaCopyParallelism()).isEqualTo(32);
        Path bad = write("repository: /var/backups/synapse\nmedia-copy-parallelism: 0\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(bad)))
                .hasMessageContaining("\"media-copy-parallelism\"");
    }

    @Test
    void mediaEncryptionIsOffByDefaultAndABoolean() throws Exception {
        Path plain = write("repository: /var/backups/synapse\n");
        assertThat(new ConfigLoader(Map.of(), null).load(file(plain)).mediaEncryption()).isFalse();
        Path set = write("repository: /var/backups/synapse\nmedia-encryption: true\n");
        assertThat(new ConfigLoader(Map.of(), null).load(file(set)).mediaEncryption()).isTrue();
        assertThat(new ConfigLoader(Map.of(), null).load(file(set)).withStateDirectory(Path.of("/x")).mediaEncryption())
                .isTrue();
        Path bad = write("repository: /var/backups/synapse\nmedia-encryption: yes please\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(bad)))
                .hasMessageContaining("\"media-encryption\"").hasMessageContaining("true or false");
    }

    @Test
    void defaultConfigFileIsUsedWhenPresent() throws Exception {
        Path f = write("repository: /var/backups/synapse\n");
        ToolConfig c = new ConfigLoader(Map.of(), f).load(ConfigOverrides.none());
        assertThat(c.repositoryDir()).contains(Path.of("/var/backups/synapse"));
        assertThat(c.synapseConfigs()).containsExactly(ToolConfig.DEFAULT_SYNAPSE_CONFIG);
        assertThat(c.configFile()).contains(f);
    }

    @Test
    void postgresAdminConnectionIsOptionalAndValidated() throws Exception {
        ConfigLoader l = new ConfigLoader(Map.of(), null);
        assertThat(l.load(file(write("repository: /r\n"))).postgresAdmin()).isEmpty();
        PostgresAdmin peer = l.load(file(write("repository: /r\npostgres: {admin-os-user: postgres}\n"))).postgresAdmin()
                .orElseThrow();
        assertThat(peer).isEqualTo(new PostgresAdmin("postgres", null, null));
        Path pw = Files.writeString(dir.resolve("pg-admin"), "pg-admin-secret\nignored\n");
        PostgresAdmin byPassword = l.load(file(write("repository: /r\npostgres:\n  admin-user: postgres\n"
                + "  admin-password-file: " + pw + "\n"))).postgresAdmin().orElseThrow();
        assertThat(byPassword.user()).isEqualTo("postgres");
        assertThat(byPassword.password().orElseThrow().revealString()).isEqualTo("pg-admin-secret");
        assertThat(byPassword.toString()).doesNotContain("pg-admin-secret");

        assertThatThrownBy(() -> l.load(file(write("repository: /r\npostgres: {admin-user: postgres}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"postgres.admin-password-file\"");
        assertThatThrownBy(() -> l.load(file(write("repository: /r\npostgres: {admin-os-user: postgres, admin-password-file: /x}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"postgres.admin-password-file\"");
        assertThatThrownBy(() -> l.load(file(write("repository: /r\npostgres: {admin-os-user: '-rf'}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"postgres.admin-os-user\"");
        assertThatThrownBy(() -> l.load(file(write("repository: /r\npostgres: {admin-password: x}\n"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("unknown key \"postgres.admin-password\"");
        assertThatThrownBy(() -> new PostgresAdmin(null, "postgres", tmpMissing()).password())
                .isInstanceOf(ConfigException.class).hasMessageContaining("does not exist");
    }

    private static Path tmpMissing() {
        return Path.of("/nonexistent/pg-admin-password");
    }

    @Test
    void regionOrEndpointRequired() throws Exception {
        Path f = write("s3: {bucket: b}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class)
                .hasMessage("one of \"region\" or \"endpoint\" needs to be set");
    }

    @Test
    void bucketRequired() throws Exception {
        Path f = write("s3: {region: r}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"bucket\"");
    }

    @Test
    void uriStyleMustBePathOrHost() throws Exception {
        Path f = write("s3: {bucket: b, region: r, s3-uri-style: virtual}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"s3-uri-style\"").hasMessageContaining("virtual");
    }

    @Test
    void endpointMustBeHttpUrl() throws Exception {
        Path f = write("s3: {bucket: b, endpoint: 'ftp://x'}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"endpoint\"");
        Path g = write("s3: {bucket: b, endpoint: 'not a url'}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(g)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"endpoint\"");
    }

    @Test
    void accessKeyAndSecretKeyBothOrNeither() throws Exception {
        Path f = write("s3: {bucket: b, region: r, access-key: AK}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"secret-key\"");
        Path g = write("s3: {bucket: b, region: r, secret-key: topsecret}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(g)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"access-key\"")
                .hasMessageNotContaining("topsecret");
    }

    @Test
    void repoAndS3TogetherIsAnError() throws Exception {
        Path f = write("s3: {bucket: b, region: r}\n");
        ConfigOverrides flags = new ConfigOverrides(f, List.of(), dir.resolve("repo"), null, null, null, null, null, null);
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(flags))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"repository\"").hasMessageContaining("\"s3\"");
    }

    @Test
    void noRepositoryAtAll() {
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(ConfigOverrides.none()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("no repository configured");
    }

    @Test
    void unknownKeysAreNamed() throws Exception {
        Path f = write("s3: {bucket: b, region: r, secret_key: x}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"s3.secret_key\"").hasMessageContaining(f.toString());
    }

    @Test
    void brokenYamlNamesTheFile() throws Exception {
        Path f = write("s3: [unclosed\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining(f.toString()).hasMessageContaining("not valid YAML");
    }

    @Test
    void missingConfigFileIsNamed() {
        Path f = dir.resolve("nope.yaml");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessage("config file " + f + " does not exist");
    }

    @Test
    void yamlBombIsRefused() throws Exception {
        StringBuilder sb = new StringBuilder("a: &a [x, x, x, x, x, x, x, x, x]\n");
        char prev = 'a';
        for (char c = 'b'; c <= 'z'; c++) {
            sb.append(c).append(": &").append(c).append(" [");
            for (int i = 0; i < 9; i++) {
                sb.append(i == 0 ? "" : ", ").append('*').append(prev);
            }
            sb.append("]\n");
            prev = c;
        }
        Path f = write(sb.toString());
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining(f.toString());
    }

    @Test
    void passphraseSourcesAndFirstLineRule() throws Exception {
        Path pf = dir.resolve("pass");
        Files.writeString(pf, "correct horse\nsecond line ignored, as gpg does\n");
        Path f = write("repository: /r\npassphrase-file: " + pf + "\n");
        ToolConfig c = new ConfigLoader(Map.of(), null).load(file(f));
        assertThat(c.passphrase().orElseThrow().read().revealString()).isEqualTo("correct horse");
        ToolConfig e = new ConfigLoader(Map.of("SYNAPSE_BACKUP_PASSPHRASE", "from env"), null).load(file(f));
        assertThat(e.passphrase().orElseThrow().read().revealString()).isEqualTo("from env");
        assertThat(e.passphrase().orElseThrow().toString()).doesNotContain("from env");
        Files.writeString(pf, "\n");
        assertThatThrownBy(() -> c.passphrase().orElseThrow().read()).isInstanceOf(ConfigException.class).hasMessageContaining("empty");
    }

    @Test
    void synapseConfigSources() throws Exception {
        Path f = write("repository: /r\nsynapse-config: [/a.yaml, /b]\n");
        assertThat(new ConfigLoader(Map.of(), null).load(file(f)).synapseConfigs()).containsExactly(Path.of("/a.yaml"), Path.of("/b"));
        assertThat(new ConfigLoader(Map.of("SYNAPSE_CONFIG_PATH", "/data/homeserver.yaml"), null).load(file(f)).synapseConfigs())
                .containsExactly(Path.of("/data/homeserver.yaml"));
    }

    @Test
    void serviceCommandsMustBeLists() throws Exception {
        Path f = write("repository: /r\nservice: {stop-command: 'systemctl stop x'}\n");
        assertThatThrownBy(() -> new ConfigLoader(Map.of(), null).load(file(f)))
                .isInstanceOf(ConfigException.class).hasMessageContaining("\"service.stop-command\"");
    }

    @Test
    void prefixNormalisation() {
        assertThat(S3Parameters.normalizePrefix("")).isEmpty();
        assertThat(S3Parameters.normalizePrefix("/")).isEmpty();
        assertThat(S3Parameters.normalizePrefix("/a/")).isEqualTo("a");
        assertThat(S3Parameters.normalizePrefix("a//b/")).isEqualTo("a/b");
        assertThat(S3Parameters.normalizePrefix("//x///y//z//")).isEqualTo("x/y/z");
    }

    @Test
    void encryptionRecipientsAndStateDirectory() throws Exception {
        ConfigLoader l = new ConfigLoader(Map.of(), null);
        ToolConfig c = l.load(file(write("repository: /r\nencryption: {recipients: [/k/a.asc, /k/b.asc]}\n"
                + "state-directory: /srv/state\n")));
        assertThat(c.recipients()).containsExactly(Path.of("/k/a.asc"), Path.of("/k/b.asc"));
        assertThat(c.publicKeyEncryption()).isTrue();
        assertThat(c.stateDirectory()).isEqualTo(Path.of("/srv/state"));
        ToolConfig plain = l.load(file(write("repository: /r\n")));
        assertThat(plain.publicKeyEncryption()).isFalse();
        assertThat(plain.stateDirectory()).isEqualTo(Path.of("/var/lib/synapse-backup"));

        assertThatThrownBy(() -> l.load(file(write("repository: /r\nencryption: {recipient: /k/a.asc}\n"))))
                .hasMessageContaining("unknown key \"encryption.recipient\"");
        // an encryption block that lists no key never falls back to the passphrase scheme
        for (String block : List.of("encryption: {}", "encryption:", "encryption: {recipients: []}",
                "encryption: {recipients: }", "encryption: {recipients: ''}", "encryption: {recipients: ['']}")) {
            assertThatThrownBy(() -> l.load(file(write("repository: /r\n" + block + "\n"))))
                    .as(block).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("\"encryption.recipients\"").hasMessageContaining("at least one public key file");
        }
        // one scheme: a passphrase from any source beside recipients is refused, naming both
        assertThatThrownBy(() -> new ConfigLoader(Map.of("SYNAPSE_BACKUP_PASSPHRASE", "x"), null)
                .load(file(write("repository: /r\nencryption: {recipients: /k/a.asc}\n"))))
                .hasMessageContaining("encryption.recipients").hasMessageContaining("SYNAPSE_BACKUP_PASSPHRASE");
    }
}
