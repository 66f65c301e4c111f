package dev.synapsebackup.create;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.synapsebackup.synapse.SampleHomeserver;
import dev.synapsebackup.testing.Cli;
import dev.synapsebackup.testing.FaultProxy;
import dev.synapsebackup.testing.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixed cost of a run, counted in requests (a clock-free measure): a no-change incremental
 * {@code create} against S3Proxy, through a recording proxy, makes at most {@link #MAX_REQUESTS}.
 * Each request costs a round trip, and in a fresh JVM far more; a change that adds one fails here.
 */
class RequestCountTest {
    /**
     * HEAD bucket (access check); the conditional-put probe (PUT, PUT If-None-Match, DELETE); the
     * lock (PUT If-None-Match, GET read-back); one listing (locks and backups, media copies
     * skipped); the stale uploads; the parent's manifest; the data object; the lock check (GET);
     * the manifest; the release (GET, DELETE). There were 22 before issue 19.
     */
    static final int MAX_REQUESTS = 14;

    @RegisterExtension
    static final S3ProxyServer S3 = S3ProxyServer.inMemory();

    @TempDir
    Path tmp;

    @Test
    void noChangeIncremental() throws Exception {
        Path hs = tmp.resolve("hs");
        Path yaml = SampleHomeserver.generate(hs, SampleHomeserver.Options.defaults().withMedia(10, 100_000));
        Path pass = tmp.resolve("passphrase");
        Files.writeString(pass, "request count passphrase\n");
        S3.createBucket("requests");
        try (FaultProxy proxy = new FaultProxy(S3.port())) {
            Cli cli = new Cli().env("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY)
                    .env("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
            String[] args = {"create", "--json", "--quiet", "--bucket", "requests", "--path", "hs",
                "--endpoint", proxy.endpoint().toString(), "--s3-uri-style", "path",
                "--synapse-config", yaml.toString(), "--passphrase-file", pass.toString()};
            Cli.Result full = cli.run(args);
            assertThat(full.exitCode()).as(full.toString()).isZero();
            proxy.reset();

            Cli.Result again = cli.run(args);
            assertThat(again.exitCode()).as(again.toString()).isZero();
            JsonNode result = new ObjectMapper().readTree(again.stdout());
            assertThat(result.get("kind").asText()).isEqualTo("incremental");
            List<String> seen = proxy.requests().stream().map(r -> r.method() + " " + r.target()).toList();
            assertThat(seen).as(String.join("\n", seen)).hasSizeLessThanOrEqualTo(MAX_REQUESTS);

            // Copies of S3-held media that a killed run left: the listing meets them, so the run
            // lists media/ and removes them, as it did before it skipped that listing.
            String orphan = "hs/media/backup-29991231000000000000/bucket/local_content/aa/one";
            S3.putObject("requests", orphan, new byte[] {1}, java.util.Map.of());
            proxy.reset();
            Cli.Result third = cli.run(args);
            assertThat(third.exitCode()).as(third.toString()).isZero();
            assertThat(proxy.requests()).anyMatch(r -> r.target().contains("delimiter=%2F"));
            assertThat(S3.keys("requests")).doesNotContain(orphan);
        }
    }
}
