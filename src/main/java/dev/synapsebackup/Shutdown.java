package dev.synapsebackup;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Turns SIGINT and SIGTERM into an interrupt of the thread running a command, so that its own
 * failure paths clean up (the multipart upload aborted, temporary files and staging directories
 * removed) before the JVM exits. The process then exits with the command's own exit code: 130
 * (SPEC: interrupted) when the interrupt stopped it, for either signal; the JVM alone would exit
 * with 128 + the signal number (143 for SIGTERM). Inside a critical section (the live swap) the
 * interrupt is held back until the section ends, so the swap finishes or rolls back but never
 * stops half-way; a swap that finished exits as it would have without the signal.
 *
 * <p>A program that calls the Java API has no launcher: {@link #interruptOnShutdown} gives it the
 * same cancellation, an interrupt of the thread running the operation and a JVM that waits for
 * its clean-up, for as long as the operation runs. Operations rely on that alone.
 */
public final class Shutdown {
    /** How long a shutdown waits for an interrupted operation to clean up. */
    public static final Duration PATIENCE = Duration.ofMinutes(5);

    private static final Object LOCK = new Object();
    private static Thread worker;
    private static int critical;
    private static boolean requested;
    private static boolean exiting;

    private Shutdown() {
    }

    /**
     * Installs the shutdown hook for {@code thread} (the one running the command). Give the
     * returned action the command's exit code when it has finished, and call {@link #exiting()}
     * right before {@code System.exit}: after a signal, the hook waits for the command, at most
     * {@code patience}, and the process exits with that code (130 if the command had not
     * finished by then).
     */
    public static IntConsumer install(Thread thread, Duration patience) {
        CountDownLatch finished = new CountDownLatch(1);
        AtomicInteger exitCode = new AtomicInteger(SynapseBackupException.INTERRUPTED);
        synchronized (LOCK) {
            worker = thread;
            requested = false;
            critical = 0;
            exiting = false;
        }
        Thread hook = new Thread(() -> {
            synchronized (LOCK) {
                requested = true;
                if (exiting) {
                    return; // the launcher's own System.exit: the JVM exits with that code
                }
                if (critical == 0 && worker != null) {
                    worker.interrupt();
                }
            }
            boolean done = false;
            try {
                done = finished.await(patience.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (done) {
                // Only then: a command still running may hold the streams' locks (a full pipe).
                System.out.flush();
                System.err.flush();
            }
            // The JVM would exit with 128 + the signal; the command's own code is the contract.
            Runtime.getRuntime().halt(exitCode.get());
        }, "synapse-backup-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        return code -> {
            exitCode.set(code); // before the worker is cleared: a signal from now on exits with it
            synchronized (LOCK) {
                worker = null;
            }
            finished.countDown();
        };
    }

    /**
     * Says that the launcher is about to call {@code System.exit} with the command's code: a
     * shutdown from then on is that exit, not a signal.
     */
    public static void exiting() {
        synchronized (LOCK) {
            exiting = true;
        }
    }

    /** A span of an operation during which a shutdown interrupts its thread; see {@link #interruptOnShutdown}. */
    public interface Scope extends AutoCloseable {
        /** Ends the span: the operation has finished or cleaned up. */
        @Override
        void close();
    }

    /**
     * Until the returned scope is closed, a shutdown of the JVM (SIGINT, SIGTERM, {@code System.exit}
     * elsewhere) interrupts the calling thread and waits, at most {@link #PATIENCE}, for the scope to
     * be closed, so that the thread's failure paths (the upload aborted, temporary files removed)
     * run before the JVM exits. Under the launcher ({@link #install}), whose hook already does
     * that for the command's thread, the scope does nothing.
     */
    public static Scope interruptOnShutdown() {
        if (installed()) {
            return () -> { };
        }
        Thread thread = Thread.currentThread();
        CountDownLatch closed = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            thread.interrupt();
            try {
                closed.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "synapse-backup-abort");
        Runtime.getRuntime().addShutdownHook(hook);
        return () -> {
            closed.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running, and now returns
            }
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
    public static void enterCritical() throws InterruptedIOException {
        synchronized (LOCK) {
            if (requested) {
                throw new InterruptedIOException("interrupted");
            }
            critical++;
        }
    }

    /** Leaves a critical section; a signal that came meanwhile now interrupts the worker. */
    public static void exitCritical() {
        synchronized (LOCK) {
            critical--;
            if (critical == 0 && requested && worker != null) {
                worker.interrupt();
            }
        }
    }
}
