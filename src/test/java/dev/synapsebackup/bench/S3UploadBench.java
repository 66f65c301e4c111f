package dev.synapsebackup.bench;

import dev.synapsebackup.config.S3Parameters;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.S3Repository;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Random;

/**
 * Measures the S3 upload path alone: {@code SIZE_MB} of random bytes written through
 * {@link S3Repository#create} (multipart, as create uploads), with the wall time and this
 * process's CPU time.
 *
 * <p>Usage: {@code S3UploadBench ENDPOINT BUCKET SIZE_MB} with AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY set.
 */
public final class S3UploadBench {
    private S3UploadBench() {
    }

    public static void main(String[] args) throws Exception {
        S3Parameters p = S3Parameters.builder().endpoint(args[0]).bucket(args[1]).region("us-east-1")
                .uriStyle("path").accessKey(System.getenv("AWS_ACCESS_KEY_ID"))
                .secretKey(Secret.of(System.getenv("AWS_SECRET_ACCESS_KEY"))).build();
        long size = Long.parseLong(args[2]) << 20;
        byte[] buf = new byte[1 << 20];
        new Random(1).nextBytes(buf);
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        try (S3Repository repo = S3Repository.builder(p).build()) {
            for (int round = 0; round < 2; round++) {
                long cpu0 = os.getProcessCpuTime();
                long t0 = System.nanoTime();
                try (ObjectWriter w = repo.create("upload-bench-" + round, size, Map.of())) {
                    for (long n = 0; n < size; n += buf.length) {
                        w.write(buf);
                    }
                    w.commit();
                }
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf("round %d: %.2f s, %.1f MB/s, cpu %.2f s%n", round, s, size / 1e6 / s,
                        (os.getProcessCpuTime() - cpu0) / 1e9);
            }
        }
    }
}
