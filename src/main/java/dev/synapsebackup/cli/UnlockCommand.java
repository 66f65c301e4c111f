package dev.synapsebackup.cli;

import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryLock;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "unlock",
        header = "Remove stale repository locks.",
        description = "Removes the locks whose run died: those not refreshed for 30 minutes, and those of this host"
                + " whose process no longer runs (killed with kill -9). With --force,"
                + " removes every lock, also one that a live run holds; use it only when you know that run is gone.",
        footer = {
            "  synapse-backup unlock"})
final class UnlockCommand extends BaseCommand {
    @Option(names = "--force", description = "Remove every lock, live or stale.")
    boolean force;

    @Override
    public Integer call() {
        Output out = output();
        try (Repository repo = openRepository()) {
            repo.checkAccess();
            Clock clock = Clock.systemUTC();
            Instant now = clock.instant();
            List<RepositoryLock.LockInfo> before = RepositoryLock.list(repo);
            int removed = force ? RepositoryLock.removeAll(repo)
                    : RepositoryLock.removeStale(repo, clock, RepositoryLock.DEFAULT_STALE_AFTER);
            List<RepositoryLock.LockInfo> live = before.stream()
                    .filter(l -> !force && !l.isStale(now, RepositoryLock.DEFAULT_STALE_AFTER)).toList();
            if (out.json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("removed", removed);
                doc.put("live", live.stream().map(RepositoryLock.LockInfo::describe).toList());
                out.json(doc);
                return 0;
            }
            for (RepositoryLock.LockInfo l : before) {
                if (force || l.isStale(now, RepositoryLock.DEFAULT_STALE_AFTER)) {
                    out.info("removed the lock of " + l.describe());
                }
            }
            for (RepositoryLock.LockInfo l : live) {
                out.warn("left the live lock of " + l.describe() + " (use --force if that run is gone)");
            }
            out.result("removed " + removed + (removed == 1 ? " lock" : " locks"));
            return 0;
        }
    }
}
