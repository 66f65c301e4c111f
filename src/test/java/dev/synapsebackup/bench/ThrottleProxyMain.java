package dev.synapsebackup.bench;

import dev.synapsebackup.testing.FaultProxy;
import java.time.Duration;

/**
 * Runs the test {@link FaultProxy} stand-alone as a simulated network in front of an S3 server on
 * loopback, for bench/run.sh: every request waits a fixed delay and each connection is paced to a
 * byte rate in both directions, the way a single S3 stream behaves across a WAN.
 *
 * <p>Usage: {@code ThrottleProxyMain UPSTREAM_PORT BYTES_PER_SECOND DELAY_MS}. Prints
 * {@code endpoint=http://localhost:PORT} on stdout once it accepts connections, then runs until killed.
 */
public final class ThrottleProxyMain {
    private ThrottleProxyMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ThrottleProxyMain UPSTREAM_PORT BYTES_PER_SECOND DELAY_MS");
            System.exit(2);
        }
        FaultProxy proxy = new FaultProxy(Integer.parseInt(args[0]));
        proxy.throttle(Long.parseLong(args[1]), Duration.ofMillis(Long.parseLong(args[2])));
        System.out.println("endpoint=" + proxy.endpoint());
        System.out.flush();
        Thread.currentThread().join();
    }
}
