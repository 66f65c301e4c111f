package dev.synapsebackup.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.ConfigOverrides;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.testing.Launcher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * packaging/config.yaml.example, installed as /etc/synapse-backup/config.yaml.example: it loads
 * as it is, with its commented blocks switched on too, and mentions every key the loader knows.
 */
class ExampleConfigTest {
    private static final Path EXAMPLE = Launcher.PROJECT.resolve("packaging/config.yaml.example");

    @TempDir
    Path dir;

    private ToolConfig load(String text) throws IOException {
        Path f = dir.resolve("config.yaml");
        Files.writeString(f, text);
        return new ConfigLoader(Map.of(), null).load(new ConfigOverrides(f, List.of(), null, null, null, null, null, null, null));
    }

    @Test
    void loadsAsShipped() throws IOException {
        ToolConfig c = load(Files.readString(EXAMPLE));
        assertThat(c.repositoryDir()).contains(Path.of("/var/backups/synapse"));
        assertThat(c.synapseConfigs()).containsExactly(Path.of("/etc/matrix-synapse/homeserver.yaml"));
        assertThat(c.passphrase()).isPresent();
    }

    @Test
    void loadsWithEveryExampleSwitchedOn() throws IOException {
        // Uncomment every "#key" line and the blocks under it; S3 instead of the directory.
        StringBuilder sb = new StringBuilder();
        for (String line : Files.readAllLines(EXAMPLE)) {
            if (line.startsWith("repository:")) {
                continue;
            }
            if (line.matches("#(\\s*[a-z][a-z0-9-]*:(\\s.*)?|\\s+- \\[.*)") && !line.contains("# instead of")) {
                line = line.substring(1);
            }
            sb.append(line).append('\n');
        }
        String text = sb.toString().replace("access-key: AKIA...", "access-key: AKIAEXAMPLE")
                .replace("secret-key: ...", "secret-key: example-secret");
        ToolConfig c = load(text);
        assertThat(c.s3()).isPresent();
        assertThat(c.s3().get().bucket()).isEqualTo("synapse-backups");
        assertThat(c.notifications().metricsFile()).contains(Path.of("/var/lib/prometheus/node-exporter/synapse_backup.prom"));
        assertThat(c.notifications().onError()).hasSize(2);
        assertThat(c.notifications().pingUrl()).isPresent();
        assertThat(c.stopCommand()).isNotEmpty();
        assertThat(c.postgresAdmin()).isPresent();
    }

    @Test
    void documentsEveryKey() throws IOException {
        String example = Files.readString(EXAMPLE);
        for (String block : List.of("", "s3", "service", "hooks", "postgres")) {
            for (String key : knownKeys(block)) {
                assertThat(example).as("key " + (block.isEmpty() ? "" : block + ".") + key)
                        .containsPattern("(?m)^#?\\s*" + Pattern.quote(key) + ":");
            }
        }
    }

    /** The keys the loader accepts in a block, as its error for an unknown key lists them. */
    private List<String> knownKeys(String block) throws IOException {
        String text = block.isEmpty() ? "no-such-key: 1\n" : block + ": {no-such-key: 1}\n";
        Path f = dir.resolve("probe.yaml");
        Files.writeString(f, "repository: /tmp\n" + text);
        String message;
        try {
            new ConfigLoader(Map.of(), null).load(new ConfigOverrides(f, List.of(), null, null, null, null, null, null, null));
            throw new AssertionError("an unknown key in " + block + " was accepted");
        } catch (ConfigException e) {
            message = e.getMessage();
        }
        Matcher m = Pattern.compile("\\(known: ([^)]*)\\)").matcher(message);
        if (!m.find()) {
            // service lists no keys in its message.
            assertThat(block).isEqualTo("service");
            return List.of("stop-command", "start-command");
        }
        return Arrays.asList(m.group(1).split(", "));
    }
}
