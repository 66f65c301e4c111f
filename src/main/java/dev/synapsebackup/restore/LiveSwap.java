package dev.synapsebackup.restore;

import dev.synapsebackup.Shutdown;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.synapse.PostgresRestore;
import dev.synapsebackup.synapse.ServiceControl;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live part of a restore: stops Synapse, renames each live path aside and its staged
 * replacement into place (rolling every rename back, in reverse order, on failure), runs the
 * database step, starts Synapse. A SIGINT/SIGTERM meanwhile waits until this is done (see
 * {@link Shutdown}).
 */
final class LiveSwap {
    private static final Logger LOG = LoggerFactory.getLogger(LiveSwap.class);

    /** The database step of a live restore, run after the files are swapped in. */
    interface DatabaseStep {
        void run() throws IOException;
    }

    /**
     * What the swap is to do and tell.
     *
     * @param changes  the changes made, as reported (read for the message of a failed start)
     * @param notes    notes for the result; the swap adds its own
     * @param database the database step, or null
     */
    record Request(String id, RestoreLayout layout, RestoreOptions options, List<String> changes, List<String> notes,
                   DatabaseStep database) {
    }

    private final ServiceControl service;
    private final FileMover mover;

    LiveSwap(ServiceControl service, FileMover mover) {
        this.service = service;
        this.mover = mover;
    }

    /** Swaps the staged units in; returns the previous paths kept aside (with --keep-previous). */
    List<String> run(Request r) throws IOException {
        Shutdown.enterCritical();
        try {
            return runUninterrupted(r);
        } finally {
            Shutdown.exitCritical();
        }
    }

    private List<String> runUninterrupted(Request r) throws IOException {
        RestoreOptions options = r.options();
        if (options.noService()) {
            service.ensureNotRunning();
        } else {
            service.stop(false);
        }
        Renames renames = new Renames();
        try {
            for (RestoreLayout.Unit u : r.layout().unitsInOrder()) {
                swapUnit(r, u, renames);
            }
            if (r.database() != null) {
                // Last, so that a failing database restore (which puts the old database back by
                // itself) is rolled back together with the files.
                r.database().run();
            }
        } catch (PostgresRestore.OutcomeUnknown e) {
            // The database may hold the restored data: starting Synapse on it with the previous
            // files, or saying that all is as it was, could both be wrong. The admin decides.
            renames.rollback();
            throw new SynapseBackupException(e.exitCode(), "restore of " + r.id() + " failed while loading the database ("
                    + e.getMessage() + "); the files were put back as they were, and Synapse was left stopped", e);
        } catch (IOException | RuntimeException e) {
            renames.rollback();
            String restart = "";
            if (!options.noService()) {
                try {
                    if (!service.start()) {
                        restart = "; Synapse was stopped and must be started again by hand";
                    }
                } catch (SynapseBackupException startFailure) {
                    restart = "; starting Synapse again failed too: " + startFailure.getMessage();
                }
            }
            throw new SynapseBackupException("restore of " + r.id() + " failed while swapping in the restored data ("
                    + e.getMessage() + "); every change was rolled back and the live data is as it was" + restart, e);
        }
        r.layout().dirs.keep();
        List<String> kept = new ArrayList<>();
        if (options.keepPrevious()) {
            renames.asides.forEach(a -> kept.add(a.toString()));
        } else {
            for (Path a : renames.asides) {
                WorkDir.deleteTemporary(a);
            }
        }
        if (!options.noService()) {
            start(r, kept);
        }
        return kept;
    }

    /** Renames the unit's live path (and an SQLite database's companions) aside, and its staged copy into place. */
    private void swapUnit(Request r, RestoreLayout.Unit u, Renames renames) throws IOException {
        Path staged = r.layout().stagedPath(u);
        if (!Files.exists(staged, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> moveAside = new ArrayList<>();
        moveAside.add(u.live());
        if (u.sqlite()) {
            // A stale WAL or journal would be replayed into the restored database.
            for (String suffix : new String[] {"-wal", "-shm", "-journal"}) {
                moveAside.add(u.live().resolveSibling(u.live().getFileName() + suffix));
            }
        }
        for (Path live : moveAside) {
            if (Files.exists(live, LinkOption.NOFOLLOW_LINKS)) {
                Path aside = live.resolveSibling(live.getFileName() + ".pre-restore-" + r.id());
                if (Files.exists(aside, LinkOption.NOFOLLOW_LINKS)) {
                    throw new SynapseBackupException(aside + " already exists (left by an earlier restore of " + r.id()
                            + "?): move it away first; nothing was changed");
                }
                renames.move(live, aside);
                renames.asides.add(aside);
            }
        }
        Path parent = u.live().getParent();
        if (!Files.isDirectory(parent)) {
            Path top = parent;
            while (top.getParent() != null && !Files.exists(top.getParent())) {
                top = top.getParent();
            }
            Files.createDirectories(parent);
            renames.createdDirs.add(top);
        }
        renames.move(staged, u.live());
    }

    private void start(Request r, List<String> kept) {
        boolean started;
        try {
            started = service.start();
        } catch (SynapseBackupException e) {
            throw new SynapseBackupException(notStarted(r.id(), r.changes(), kept, r.notes(), e), e);
        }
        if (!started) {
            r.notes().add("Synapse was stopped" + (service.stoppedByPid() ? " (SIGTERM to its pid)" : "")
                    + " and there is no \"service.start-command\": start it yourself");
        }
    }

    /** The renames done so far, to undo in reverse order. */
    private final class Renames {
        final List<Path[]> done = new ArrayList<>();
        final List<Path> asides = new ArrayList<>();
        final List<Path> createdDirs = new ArrayList<>();

        void move(Path from, Path to) throws IOException {
            mover.move(from, to);
            done.add(new Path[] {from, to});
        }

        void rollback() {
            for (int i = done.size() - 1; i >= 0; i--) {
                Path[] d = done.get(i);
                try {
                    mover.move(d[1], d[0]);
                } catch (IOException e) {
                    LOG.error("ROLLBACK FAILED: could not move {} back to {}: {}", d[1], d[0], e.toString());
                }
            }
            for (Path dir : createdDirs) {
                WorkDir.deleteTemporary(dir);
            }
        }
    }

    /**
     * The message of a restore whose swap succeeded but whose start command failed: what is in
     * place now, why Synapse is not running, and that it must be started by hand.
     */
    private static String notStarted(String id, List<String> changes, List<String> kept, List<String> notes,
                             SynapseBackupException e) {
        StringBuilder m = new StringBuilder("the backup " + id + " was restored, but Synapse did not start.\n");
        m.append("Restored:\n");
        for (String c : changes) {
            m.append("  ").append(c.replaceFirst("^replace ", "replaced ").replaceFirst("^create ", "created ")).append('\n');
        }
        for (String k : kept) {
            m.append("  kept the previous data as ").append(k).append('\n');
        }
        for (String n : notes) {
            m.append("  note: ").append(n).append('\n');
        }
        if (e instanceof ServiceControl.CommandFailedException f) {
            m.append("The start command ").append(f.command()).append(" failed with exit code ").append(f.commandExitCode());
            if (f.outputTail().isEmpty()) {
                m.append(" and printed nothing.\n");
            } else {
                m.append("; the last lines of its output:\n");
                f.outputTail().forEach(l -> m.append("  | ").append(l).append('\n'));
            }
        } else {
            m.append("Starting it failed: ").append(e.getMessage()).append('\n');
        }
        m.append("The data is restored and in place, but Synapse is not running: fix the cause above and start"
                + " Synapse by hand.");
        return m.toString();
    }
}
