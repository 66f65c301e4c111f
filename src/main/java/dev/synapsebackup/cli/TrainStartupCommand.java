package dev.synapsebackup.cli;

import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.repository.S3Repository;
import dev.synapsebackup.synapse.SampleHomeserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * Hidden helper for {@code bin/synapse-backup}: runs the usual commands once on a throwaway sample
 * homeserver, so that a JVM started with {@code -XX:ArchiveClassesAtExit} records the classes a
 * run loads in a class data sharing archive. Later runs map that archive instead of finding,
 * reading and verifying the thousands of classes in the jars, which is most of a no-change
 * incremental backup's start-up. The S3 client is exercised up to a refused connection
 * (no server is needed), which loads most of its classes.
 */
@Command(name = "train-startup", hidden = true, mixinStandardHelpOptions = true,
        description = "Run the usual commands on a throwaway sample (for a class data sharing archive).")
final class TrainStartupCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Override
    public Integer call() throws IOException {
        Path dir = Files.createTempDirectory("synapse-backup-training-");
        try {
            Path yaml = SampleHomeserver.generate(dir.resolve("homeserver"), SampleHomeserver.Options.defaults());
            Path pass = dir.resolve("passphrase");
            Files.writeString(pass, "training only\n");
            List<String> local = List.of("--repo", dir.resolve("repo").toString(), "--synapse-config", yaml.toString(),
                    "--passphrase-file", pass.toString(), "--quiet");
            String full = run(local, "create", "--json");
            run(local, "create");
            run(local, "list", "--json");
            run(local, "verify", id(full));
            run(local, "restore", id(full), "--target", dir.resolve("restored").toString());
            run(local, "restore", id(full), "--print-command", "--target", dir.resolve("restored2").toString());
            run(local, "prune", "--keep-last", "5", "--dry-run");
            // Nothing listens on port 1: the S3 client is built, signs and fails at once. The model
            // classes of the other requests are initialised directly.
            run(List.of("--bucket", "training", "--endpoint", "http://127.0.0.1:1", "--region", "us-east-1",
                    "--s3-uri-style", "path", "--passphrase-file", pass.toString(), "--quiet"), "list");
            S3Repository.initialiseSdkClasses();
            return 0;
        } finally {
            WorkDir.deleteTree(dir);
        }
    }

    /** Runs one command in this JVM with its output discarded; returns its stdout. */
    private String run(List<String> common, String... command) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream discard = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        // Nothing of this machine's configuration: neither its environment nor its config file.
        Map<String, String> env = new HashMap<>();
        env.put("AWS_ACCESS_KEY_ID", "training");
        env.put("AWS_SECRET_ACCESS_KEY", "training");
        String[] args = Stream.concat(Stream.of(command), common.stream()).toArray(String[]::new);
        Main.run(args, new Context(Map.copyOf(env), new PrintStream(out, true, StandardCharsets.UTF_8), discard,
                null, null, Path.of("/nonexistent/synapse-backup-training/config.yaml")));
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String id(String createJson) {
        int i = createJson.indexOf("\"backup-id\"");
        int start = createJson.indexOf('"', createJson.indexOf(':', i)) + 1;
        return createJson.substring(start, createJson.indexOf('"', start));
    }
}
