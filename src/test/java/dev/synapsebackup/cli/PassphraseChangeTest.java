package dev.synapsebackup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.repository.LocalRepository;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SPEC §7: a passphrase change is explicit; list and prune name what the passphrase does not open. */
class PassphraseChangeTest {
    @TempDir
    Path dir;

    private Path yaml;
    private Path repo;
    private Path right;
    private Path other;

    @BeforeEach
    void setUp() throws Exception {
        yaml = SampleHomeserver.generate(dir.resolve("hs"), SampleHomeserver.Options.defaults().withMedia(3, 30_000));
        repo = dir.resolve("repo");
        right = dir.resolve("right");
        Files.writeString(right, "the right passphrase\n");
        other = dir.resolve("other");
        Files.writeString(other, "another passphrase\n");
    }

    private Cli.Result run(Path passphrase, String... args) {
        String[] all = new String[args.length + 6];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(new String[] {"--repo", repo.toString(), "--synapse-config", yaml.toString(),
            "--passphrase-file", passphrase.toString()}, 0, all, args.length, 6);
        return new Cli().run(all);
    }

    private String create(Path passphrase, String... extra) {
        String[] args = new String[extra.length + 1];
        args[0] = "create";
        System.arraycopy(extra, 0, args, 1, extra.length);
        Cli.Result r = run(passphrase, args);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r.lastLine();
    }

    @Test
    void createWithAnotherPassphraseIsRefusedUnlessNewPassphrase() throws Exception {
        String first = create(right);
        for (String[] args : List.of(new String[] {"create"}, new String[] {"create", "--full"})) {
            Cli.Result wrong = run(other, args);
            assertThat(wrong.exitCode()).as(wrong.toString()).isEqualTo(5);
            assertThat(wrong.stderr()).contains("passphrase does not open backup " + first + ", the newest in the repository")
                    .contains("--new-passphrase");
            assertThat(new LocalRepository(repo).list()).hasSize(1);
        }

        Cli.Result changed = run(other, "create", "--new-passphrase", "--json");
        assertThat(changed.exitCode()).as(changed.toString()).isZero();
        JsonNode doc = new ObjectMapper().readTree(changed.stdout());
        assertThat(doc.get("kind").asText()).isEqualTo("full");
        String second = doc.get("backup-id").asText();

        // Now the old passphrase is the wrong one, and the new one builds on the new chain.
        Cli.Result old = run(right, "create");
        assertThat(old.exitCode()).isEqualTo(5);
        assertThat(old.stderr()).contains("passphrase does not open backup " + second + ", the newest in the repository");
        Cli.Result next = run(other, "create", "--json");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(new ObjectMapper().readTree(next.stdout()).get("parent").asText()).isEqualTo(second);
    }

    @Test
    void listAndPruneNameWhatThePassphraseDoesNotOpen() throws Exception {
        String a = create(right);
        String b = create(right);
        String c = create(other, "--new-passphrase");
        String d = create(other);

        Cli.Result list = run(right, "list");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.stderr()).contains("passphrase does not open backup " + c)
                .contains("passphrase does not open backup " + d).doesNotContain("open backup " + a);
        assertThat(list.stdout().lines().filter(l -> l.startsWith(a)).findFirst().orElseThrow()).endsWith("| complete");
        assertThat(list.stdout().lines().filter(l -> l.startsWith(d)).findFirst().orElseThrow())
                .endsWith("| other-passphrase");
        JsonNode json = new ObjectMapper().readTree(run(right, "list", "--json").stdout());
        assertThat(json.get("backups").get(b).get("status").asText()).isEqualTo("complete");
        assertThat(json.get("backups").get(c).get("status").asText()).isEqualTo("other-passphrase");

        // The newest backup, under the other passphrase, is kept with the chain its metadata names;
        // the rest goes by the rules.
        Cli.Result prune = run(right, "prune", "--keep-last", "1");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        assertThat(prune.stderr()).contains("passphrase does not open backup " + d);
        assertThat(new LocalRepository(repo).list()).extracting(e -> e.id()).containsExactly(c, d);
        assertThat(run(other, "verify", d).exitCode()).isZero();
    }
}
