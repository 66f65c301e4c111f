package dev.synapsebackup.retention;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.manifest.DependencyReader;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryLock;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Deletes one backup under the repository lock, refusing when other backups need bytes from it
 * (they would no longer restore) unless forced, in which case those dependants go too.
 */
public final class Deleter {
    private Deleter() {
    }

    /**
     * What was deleted.
     *
     * @param deleted    the backups deleted, in order (dependants first, the named backup last)
     * @param dependants the backups that needed the named one (deleted too, since forced)
     */
    public record DeleteResult(List<String> deleted, List<String> dependants) {
        public DeleteResult {
            deleted = List.copyOf(deleted);
            dependants = List.copyOf(dependants);
        }
    }

    /**
     * Deletes backup {@code id}.
     *
     * @param force        also delete the backups that depend on it (after telling {@code info} which)
     * @param dependencies reads which backups a complete backup needs; used only when {@code id}
     *                     is a complete backup (nothing refers to a foreign or unfinished one)
     * @param info         receives informational messages
     * @throws BackupNotFoundException if there is no such backup
     * @throws SynapseBackupException  (exit 1) naming the dependants, when there are some and not forced
     * @throws RetainedException       (exit 1) when it or a dependant to delete is under retention
     *                                 (S3 Object Lock): nothing is deleted
     */
    public static DeleteResult delete(Repository repo, String id, boolean force, DependencyReader dependencies,
                                      Clock clock, Consumer<String> info) {
        if (!BackupId.isPlausible(id)) {
            throw new BackupNotFoundException(id);
        }
        repo.checkAccess();
        try (RepositoryLock lock = RepositoryLock.acquire(repo, "delete " + id, clock, RepositoryLock.DEFAULT_STALE_AFTER)) {
            List<BackupEntry> all = repo.list();
            BackupEntry target = all.stream().filter(e -> e.id().equals(id)).findFirst()
                    .orElseThrow(() -> new BackupNotFoundException(id));
            List<String> dependants = target.hasManifest() ? dependants(all, id, dependencies) : List.of();
            if (!dependants.isEmpty() && !force) {
                throw new SynapseBackupException("backup " + id + " is needed by " + String.join(", ", dependants)
                        + ": their files are partly stored in it; delete them first, or use --force to delete them too");
            }
            List<String> deleted = new ArrayList<>();
            List<String> order = new ArrayList<>(dependants);
            Collections.reverse(order); // newest first
            order.add(id);
            // All or nothing: a retained dependant still needs the named backup, and a retained
            // backup is never half deleted (S3 would only hide it behind a delete marker).
            Map<String, Instant> retained = new LinkedHashMap<>();
            Instant now = clock.instant();
            for (String d : order) {
                repo.retainedUntil(d).filter(t -> t.isAfter(now)).ifPresent(t -> retained.put(d, t));
            }
            if (!retained.isEmpty()) {
                throw new RetainedException(retained);
            }
            if (!dependants.isEmpty()) {
                info.accept("deleting the backups that depend on " + id + ": " + String.join(", ", dependants));
            }
            for (String d : order) {
                lock.checkStillHeld();
                repo.delete(d);
                deleted.add(d);
            }
            return new DeleteResult(deleted, dependants);
        }
    }

    /** Every complete backup that needs {@code id}, directly or through another, oldest first. */
    static List<String> dependants(List<BackupEntry> all, String id, DependencyReader dependencies) {
        Map<String, List<String>> neededBy = new HashMap<>();
        Map<String, Instant> order = new HashMap<>();
        for (BackupEntry e : all) {
            order.put(e.id(), PruneCandidate.timeOf(e));
            if (e.hasManifest() && !e.id().equals(id)) {
                Set<String> deps;
                try {
                    deps = dependencies.dependsOn(e.id());
                } catch (IntegrityException x) {
                    // A manifest this passphrase does not open (or a damaged one): as prune does,
                    // assume it needs the chain its metadata names, so that it is not broken silently.
                    deps = Pruner.assumedDependencies(e.id(), all);
                }
                for (String dep : deps) {
                    neededBy.computeIfAbsent(dep, k -> new ArrayList<>()).add(e.id());
                }
            }
        }
        Set<String> found = new TreeSet<>();
        Deque<String> queue = new ArrayDeque<>(List.of(id));
        while (!queue.isEmpty()) {
            for (String d : neededBy.getOrDefault(queue.poll(), List.of())) {
                if (!d.equals(id) && found.add(d)) {
                    queue.add(d);
                }
            }
        }
        List<String> result = new ArrayList<>(found);
        result.sort(Comparator.comparing((String s) -> order.get(s)).thenComparing(s -> s));
        return result;
    }
}
