package dev.synapsebackup.backup;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns SIGINT and SIGTERM into an interrupt of the thread running a command, so that its own
 * failure paths clean up (the multipart upload aborted, temporary files and staging directories
 * removed) before the JVM exits; the JVM then exits with 128 + the signal number (130 for
 * SIGINT). Inside a critical section (the live swap) the interrupt is held back until the
 * section ends, so the swap finishes or rolls back but never stops half-way.
 */
public final class Shutdown {
    private static final Object LOCK = new Object();
    private static Thread worker;
    private static int critical;
    private static boolean requested;

    private Shutdown() {
    }

    /**
     * Installs the shutdown hook for {@code thread} (the one running the command). Run the
     * returned action when the command has finished: the hook waits for it, at most
     * {@code patience}, before letting the JVM exit.
     */
    public static Runnable install(Thread thread, Duration patience) {
        CountDownLatch finished = new CountDownLatch(1);
        synchronized (LOCK) {
            worker = thread;
            requested = false;
            critical = 0;
        }
        Thread hook = new Thread(() -> {
            synchronized (LOCK) {
                requested = true;
                if (critical == 0 && worker != null) {
                    worker.interrupt();
                }
            }
            try {
                finished.await(patience.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "synapse-backup-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        return () -> {
            synchronized (LOCK) {
                worker = null;
            }
            finished.countDown();
        };
    }

    /** Whether a command thread is registered, i.e. signals become interrupts of it. */
    public static boolean installed() {
        synchronized (LOCK) {
            return worker != null;
        }
    }

    /** Whether a shutdown (signal) has been requested. */
    public static boolean requested() {
        synchronized (LOCK) {
            return requested;
        }
    }

    /**
     * Enters a section that a signal must not cut short.
     *
     * @throws InterruptedIOException if a shutdown was already requested: do not start it
     */
    static void enterCritical() throws InterruptedIOException {
        synchronized (LOCK) {
            if (requested) {
                throw new InterruptedIOException("interrupted");
            }
            critical++;
        }
    }

    /** Leaves a critical section; a signal that came meanwhile now interrupts the worker. */
    static void exitCritical() {
        synchronized (LOCK) {
            critical--;
            if (critical == 0 && requested && worker != null) {
                worker.interrupt();
            }
        }
    }
}
