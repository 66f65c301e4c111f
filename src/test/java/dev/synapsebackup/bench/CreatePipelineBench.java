package dev.synapsebackup.bench;

import dev.synapsebackup.archive.TarWriter;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.io.CountingOutputStream;
import dev.synapsebackup.io.PipelinedOutputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Measures create's data path without the backup layer, on the files under the given roots:
 * {@code tar (+SHA-256) -> [pipeline thread] -> OpenPGP encrypt (AES-CFB + SHA-1 MDC) -> 1 MiB
 * buffer -> /dev/null}, serial as BackupCreator does it today and with a
 * {@link PipelinedOutputStream} between tar and encryption; plus each stage alone.
 *
 * <p>Usage: {@code CreatePipelineBench ROOT...} (files or directories).
 */
public final class CreatePipelineBench {
    private CreatePipelineBench() {
    }

    public static void main(String[] args) throws Exception {
        List<Path> files;
        try (Stream<Path> s = Stream.of(args).map(Path::of).flatMap(CreatePipelineBench::walk)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        Secret pass = Secret.of("bench");
        String[] variants = args.length > 0 ? new String[] {"tar-only", "encrypt-only", "serial", "pipelined", "serial", "pipelined"} : new String[0];
        for (String v : variants) {
            long t0 = System.nanoTime();
            CountingOutputStream sink = new CountingOutputStream(OutputStream.nullOutputStream());
            long bytes = 0;
            switch (v) {
                case "tar-only" -> bytes = tar(files, sink);
                case "encrypt-only" -> {
                    byte[] buf = new byte[1 << 16];
                    new java.util.Random(1).nextBytes(buf);
                    try (OutputStream enc = OpenPgp.encrypt(new BufferedOutputStream(sink, 1 << 20), pass)) {
                        for (long n = 0; n < 1L << 31; n += buf.length) {
                            enc.write(buf);
                        }
                    }
                    bytes = 1L << 31;
                }
                case "serial" -> {
                    OutputStream enc = OpenPgp.encrypt(new BufferedOutputStream(sink, 1 << 20), pass);
                    bytes = tar(files, enc);
                    enc.close();
                }
                case "pipelined" -> {
                    OutputStream enc = OpenPgp.encrypt(new BufferedOutputStream(sink, 1 << 20), pass);
                    PipelinedOutputStream pipe = new PipelinedOutputStream(enc, 1 << 20, 4, "encrypt");
                    bytes = tar(files, pipe);
                    pipe.close();
                }
                default -> throw new IllegalStateException(v);
            }
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%-13s %6.2f s  %7.1f MB/s  (%d bytes in, %d out)%n", v, s, bytes / 1e6 / s, bytes, sink.count());
        }
    }

    private static long tar(List<Path> files, OutputStream out) throws IOException {
        TarWriter tar = new TarWriter(out);
        long bytes = 0;
        for (Path f : files) {
            bytes += tar.addFile(f, f.toString().substring(1)).record().size();
        }
        tar.finish();
        return bytes;
    }

    private static Stream<Path> walk(Path p) {
        try {
            return Files.walk(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
