package dev.synapsebackup.testing;

import dev.synapsebackup.cli.Context;
import dev.synapsebackup.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Runs the real {@link Main} in-process with a chosen environment and captures its output. */
public final class Cli {
    private final Map<String, String> env = new HashMap<>();
    private Path defaultConfig = Path.of("/nonexistent/synapse-backup/config.yaml");

    /** Sets an environment variable for the runs. */
    public Cli env(String name, String value) {
        env.put(name, value);
        return this;
    }

    /** Sets the config file read when --config is absent. */
    public Cli defaultConfig(Path p) {
        this.defaultConfig = p;
        return this;
    }

    /** Runs one command line. */
    public Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        int code = Main.run(args, new Context(Map.copyOf(env), o, e, null, null, defaultConfig));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Exit code and captured streams of one run. */
    public record Result(int exitCode, String stdout, String stderr) {
        /** The last non-empty line of stdout. */
        public String lastLine() {
            String[] lines = stdout.strip().split("\n");
            return lines[lines.length - 1];
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }
}
