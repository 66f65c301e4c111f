package dev.synapsebackup.repository;

import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.repository.RepositoryLock.LockInfo;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * When a lock no longer stops anyone: its holder has not refreshed it for the stale time, or it is
 * a run of this machine whose process is gone. Also who "this machine" is, as a lock names it.
 */
final class LockLiveness {
    /** This host's name. */
    static final String HOST = defaultHost();
    /**
     * The kernel's boot id and this process's pid namespace: tells this machine from another
     * of the same host name, this boot from an earlier one (whose pids mean nothing now), and
     * this host from a container that shares its host name but not its pids (docker
     * {@code --network host}); null where there is none.
     */
    static final String MACHINE_ID = machineId();

    private LockLiveness() {
    }

    /** See {@link LockInfo#isStale}. */
    static boolean isStale(LockInfo l, Instant now, Duration staleAfter) {
        return l.refreshed().plus(staleAfter).isBefore(now) || isDeadLocalRun(l);
    }

    /** See {@link LockInfo#isDeadLocalRun}. */
    static boolean isDeadLocalRun(LockInfo l) {
        if (l.pid() <= 0 || l.host() == null || !l.host().equals(HOST) || l.machine() == null || MACHINE_ID == null
                || !l.machine().equals(MACHINE_ID)) {
            return false;
        }
        Optional<ProcessHandle> p = ProcessHandle.of(l.pid());
        if (p.isEmpty() || !p.get().isAlive()) {
            // With /proc mounted hidepid (or systemd's ProtectProc=invisible) another user's live
            // process is invisible: a pid we cannot see is gone only if we can see pid 1's.
            return Files.isReadable(Path.of("/proc/1/stat"));
        }
        if (l.processStartTicks() > 0) {
            long now = WorkDir.startTicks(l.pid());
            return now > 0 && now != l.processStartTicks();
        }
        if (l.processStart() == null) {
            return false;
        }
        Optional<Instant> start = p.get().info().startInstant();
        // Start times come from clock ticks since boot: allow for their rounding.
        return start.isPresent() && Duration.between(start.get(), l.processStart()).abs().compareTo(Duration.ofSeconds(2)) > 0;
    }

    /**
     * A new lock for {@code host} and {@code pid}. On this host it also records the machine and the
     * process's start, so that a later process that reuses the pid is not taken for the holder.
     */
    static LockInfo newLock(String key, String host, long pid, String purpose, Instant now, String token, String state) {
        boolean here = host.equals(HOST);
        Instant processStart = here ? ProcessHandle.of(pid).flatMap(p -> p.info().startInstant()).orElse(null) : null;
        return new LockInfo(key, host, pid, purpose, now, now, token, state, now,
                here ? MACHINE_ID : null, processStart, here ? WorkDir.startTicks(pid) : 0);
    }

    private static String defaultHost() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException | SecurityException e) {
            String env = System.getenv("HOSTNAME");
            return env == null || env.isBlank() ? "unknown host" : env;
        }
    }

    private static String machineId() {
        try {
            String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            String pidNamespace = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
            return boot.isEmpty() || pidNamespace.isEmpty() ? null : boot + " " + pidNamespace;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
