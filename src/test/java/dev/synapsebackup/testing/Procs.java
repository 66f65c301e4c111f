package dev.synapsebackup.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a real external tool (gpg, tar, bash) and captures its output. */
public final class Procs {
    /** What a finished process left behind. */
    public record Result(int exitCode, byte[] stdoutBytes, String stderr) {
        /** Standard output as UTF-8 text. */
        public String stdout() {
            return new String(stdoutBytes, StandardCharsets.UTF_8);
        }
    }

    private Procs() {
    }

    public static Result run(List<String> cmd, byte[] stdin, Map<String, String> env, Path dir) {
        return run(cmd, stdin == null ? null : new java.io.ByteArrayInputStream(stdin), env, dir);
    }

    public static Result run(List<String> cmd, InputStream stdin, Map<String, String> env,
            Path dir) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(env);
            if (dir != null) {
                pb.directory(dir.toFile());
            }
            Process p = pb.start();
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            try (OutputStream in = p.getOutputStream()) {
                if (stdin != null) {
                    stdin.transferTo(in);
                }
            } catch (IOException e) {
                // the tool may exit before reading everything; its exit code tells
            }
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + cmd);
            }
            return new Result(p.exitValue(), out.join(),
                    new String(err.join(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            in.transferTo(buf);
            return buf.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs {@code bash -c script} with extra environment variables (stdin empty), waiting up to 5 minutes. */
    public static Result bash(String script, Map<String, String> env, Path cwd) {
        return run(List.of("bash", "-c", script), (byte[]) null, env, cwd);
    }

    /** Single-quotes for bash. */
    public static String q(Object s) {
        return "'" + s.toString().replace("'", "'\\''") + "'";
    }

    /** A throwaway GnuPG home with a passphrase file; kill the agent with {@link #close()}. */
    public static final class Gpg implements AutoCloseable {
        public final Path home;
        public final Path passFile;

        public Gpg(Path dir, String passphrase) throws IOException {
            home = Files.createDirectory(dir.resolve("gnupg"),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            passFile = dir.resolve("pass");
            Files.writeString(passFile, passphrase);
        }

        public Map<String, String> env() {
            return Map.of("GNUPGHOME", home.toString());
        }

        /** gpg --batch with loopback pinentry, the passphrase file, and extra args. */
        public List<String> cmd(String... args) {
            List<String> cmd = new ArrayList<>(List.of("gpg", "--batch", "--yes", "--no-tty",
                    "--pinentry-mode", "loopback", "--no-symkey-cache",
                    "--passphrase-file", passFile.toString()));
            cmd.addAll(List.of(args));
            return cmd;
        }

        public Result run(byte[] stdin, String... args) {
            return Procs.run(cmd(args), stdin, env(), null);
        }

        @Override
        public void close() {
            Procs.run(List.of("gpgconf", "--kill", "gpg-agent"), (byte[]) null, env(), null);
        }
    }
}
