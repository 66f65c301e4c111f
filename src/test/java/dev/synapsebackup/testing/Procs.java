package dev.synapsebackup.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs real external programs (gpg, tar, bash pipelines) for interop tests. */
public final class Procs {
    private Procs() {
    }

    /** Exit code, stdout and stderr of a finished process. */
    public record Result(int exitCode, String stdout, String stderr) {
    }

    /** Runs {@code bash -c script} with extra environment variables, waiting up to 5 minutes. */
    public static Result bash(String script, Map<String, String> env, Path cwd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(List.of("bash", "-c", script));
        pb.environment().putAll(env);
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        Path out = java.nio.file.Files.createTempFile("proc-out", ".txt");
        Path err = java.nio.file.Files.createTempFile("proc-err", ".txt");
        pb.redirectOutput(out.toFile());
        pb.redirectError(err.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + script);
        }
        try {
            return new Result(p.exitValue(), java.nio.file.Files.readString(out, StandardCharsets.UTF_8),
                    java.nio.file.Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            java.nio.file.Files.deleteIfExists(out);
            java.nio.file.Files.deleteIfExists(err);
        }
    }

    /** Single-quotes for bash. */
    public static String q(Object s) {
        return "'" + s.toString().replace("'", "'\\''") + "'";
    }
}
