package dev.synapsebackup.retention;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.manifest.DependencyReader;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryListing;
import dev.synapsebackup.repository.RepositoryLock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Applies a {@link KeepPolicy} to a repository: lists the backups, reads the dependencies of
 * the ones it keeps, plans with {@link PrunePlanner}, and deletes what the plan removes
 * (manifest first, then data; newest first, so that a dependant always goes before what it
 * needs). Also removes leftovers of interrupted uploads older than a day.
 *
 * <p>A real run holds the exclusive {@link RepositoryLock}; a dry run only reads and takes no lock.
 */
public final class Pruner {
    /** Uploads interrupted longer ago than this are removed (nobody can still be writing them). */
    static final Duration STALE_UPLOAD_AGE = Duration.ofDays(1);

    private Pruner() {
    }

    /**
     * The outcome of a prune.
     *
     * @param plan           the decisions, oldest first
     * @param dryRun         whether nothing was deleted on purpose
     * @param deleted        the backups deleted, in deletion order (empty for a dry run)
     * @param removedUploads leftovers of interrupted uploads removed
     * @param notBackups     objects under the prefix that are not backups, left alone (SPEC §3)
     * @param notBackupKeys  a few of those keys, for messages
     * @param warnings       clean-up steps that could not be done (the prune itself succeeded)
     */
    public record PruneResult(PrunePlan plan, boolean dryRun, List<String> deleted, int removedUploads,
                              long notBackups, List<String> notBackupKeys, List<String> warnings) {
        public PruneResult {
            deleted = List.copyOf(deleted);
            notBackupKeys = List.copyOf(notBackupKeys);
            warnings = List.copyOf(warnings);
        }

        /** A result with no objects other than backups and no warnings. */
        public PruneResult(PrunePlan plan, boolean dryRun, List<String> deleted, int removedUploads) {
            this(plan, dryRun, deleted, removedUploads, 0, List.of(), List.of());
        }
    }

    /**
     * A prune that failed part-way: {@link #partial()} says what it had planned and deleted
     * before the failure, so that the caller can still report it. The exit code is the cause's.
     */
    public static final class PruneFailedException extends SynapseBackupException {
        private static final long serialVersionUID = 1L;
        private final transient PruneResult partial;

        PruneFailedException(PruneResult partial, RuntimeException cause) {
            super(cause instanceof SynapseBackupException se ? se.exitCode() : FAILED,
                    cause.getMessage() == null ? cause.toString() : cause.getMessage(), cause);
            this.partial = partial;
        }

        /** What the prune had done when it failed. */
        public PruneResult partial() {
            return partial;
        }
    }

    /**
     * Prunes {@code repo}.
     *
     * @param repo         the repository
     * @param policy       the keep rules; an empty policy is refused ({@link dev.synapsebackup.ConfigException})
     * @param dryRun       plan only, delete nothing
     * @param dependencies reads which backups a complete backup needs (called only for kept ones)
     * @param clock        "now" for the planner and the lock
     * @throws dev.synapsebackup.RepositoryLockedException if another run holds the lock
     * @throws PruneFailedException if a deletion failed after the plan was made (carrying what
     *                              was deleted until then)
     */
    public static PruneResult prune(Repository repo, KeepPolicy policy, boolean dryRun, DependencyReader dependencies,
                                    Clock clock) {
        policy.requireNotEmpty();
        repo.checkAccess();
        if (dryRun) {
            return run(repo, policy, true, dependencies, clock, null);
        }
        RepositoryLock lock = RepositoryLock.acquire(repo, "prune", clock, RepositoryLock.DEFAULT_STALE_AFTER);
        PruneResult result;
        try {
            result = run(repo, policy, false, dependencies, clock, lock);
        } catch (RuntimeException e) {
            try {
                lock.close();
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
        try {
            lock.close();
        } catch (RuntimeException e) {
            // The deletions were made: report them along with the lost lock.
            throw new PruneFailedException(result, e);
        }
        return result;
    }

    /** Plans a prune of {@code entries} (the repository listing), reading dependencies as needed. */
    public static PrunePlan plan(List<BackupEntry> entries, KeepPolicy policy, DependencyReader dependencies, Clock clock) {
        return plan(entries, policy, dependencies, id -> Optional.empty(), clock);
    }

    /**
     * Plans a prune of {@code entries}, reading dependencies as needed and, for each backup the
     * rules would remove, until when the store retains it ({@code retention}, e.g.
     * {@link Repository#retainedUntil}): a retained backup is kept, and so is what it needs.
     */
    public static PrunePlan plan(List<BackupEntry> entries, KeepPolicy policy, DependencyReader dependencies,
                                 Function<String, Optional<Instant>> retention, Clock clock) {
        Instant now = clock.instant();
        Set<String> retentionRead = new HashSet<>();
        Map<String, PruneCandidate> candidates = new HashMap<>();
        for (BackupEntry e : entries) {
            candidates.put(e.id(), PruneCandidate.of(e));
        }
        // Dependencies matter only for what is kept: read those, re-plan, until nothing new is kept.
        Set<String> read = new HashSet<>();
        Map<String, String> unopened = new TreeMap<>();
        while (true) {
            PrunePlan plan = PrunePlanner.plan(List.copyOf(candidates.values()), policy, now);
            boolean changed = false;
            for (String id : plan.kept()) {
                PruneCandidate c = candidates.get(id);
                if (c.kind() == PruneCandidate.Kind.FULL && read.add(id)) {
                    Set<String> deps;
                    try {
                        deps = dependencies.dependsOn(id);
                    } catch (IntegrityException e) {
                        // Another passphrase (or a damaged manifest): go on with the rest, keeping
                        // whatever this backup may need.
                        deps = assumedDependencies(id, entries);
                        unopened.put(id, e.getMessage());
                    }
                    if (!deps.isEmpty()) {
                        candidates.put(id, c.incremental(deps));
                        changed = true;
                    }
                }
            }
            // Retention matters only for what would be removed: ask the store about those.
            for (String id : plan.removed()) {
                if (retentionRead.add(id)) {
                    Optional<Instant> until = retention.apply(id);
                    if (until.isPresent() && until.get().isAfter(now)) {
                        candidates.put(id, candidates.get(id).retained(until.get()));
                        changed = true;
                    }
                }
            }
            if (!changed) {
                return unopened.isEmpty() ? plan : flagUnopened(plan, unopened);
            }
        }
    }

    /**
     * Dependencies from the data objects' metadata alone, for a host that cannot decrypt the
     * manifests (public-key encryption): {@link #assumedDependencies} over one listing of the
     * repository, taken when first needed.
     */
    public static DependencyReader metadataDependencies(Repository repo) {
        List<List<BackupEntry>> listed = new ArrayList<>(1);
        return id -> {
            synchronized (listed) {
                if (listed.isEmpty()) {
                    listed.add(repo.list());
                }
                return assumedDependencies(id, listed.get(0));
            }
        };
    }

    /** What a backup whose manifest cannot be read may need: {@link BackupEntry#metadataChain}. */
    static Set<String> assumedDependencies(String id, List<BackupEntry> entries) {
        return BackupEntry.metadataChain(id, entries);
    }

    /** Names the backups the passphrase did not open, in their decisions and as warnings. */
    private static PrunePlan flagUnopened(PrunePlan plan, Map<String, String> unopened) {
        List<PrunePlan.Decision> decisions = new ArrayList<>();
        for (PrunePlan.Decision d : plan.decisions()) {
            if (unopened.containsKey(d.id())) {
                List<String> reasons = new ArrayList<>(d.reasons());
                reasons.add("the passphrase does not open it: kept with the chain its metadata names");
                d = new PrunePlan.Decision(d.id(), d.time(), d.kind(), d.action(), reasons);
            }
            decisions.add(d);
        }
        List<String> warnings = new ArrayList<>();
        unopened.forEach((id, why) -> warnings.add(
                (why.contains(OpenPgp.WRONG_PASSPHRASE)
                        ? "passphrase does not open backup " + id
                        : "the manifest of backup " + id + " cannot be read (" + why + ")")
                + ": it and what it may need are kept"));
        warnings.addAll(plan.warnings());
        return new PrunePlan(decisions, warnings, plan.retained());
    }

    private static PruneResult run(Repository repo, KeepPolicy policy, boolean dryRun, DependencyReader dependencies,
                                   Clock clock, RepositoryLock lock) {
        // Only backups take part (SPEC §3): every other object under the prefix is left alone.
        RepositoryListing listing = repo.listing();
        PrunePlan plan = plan(listing.backups(), policy, dependencies, repo::retainedUntil, clock);
        if (dryRun) {
            return new PruneResult(plan, true, List.of(), 0, listing.notBackups(), listing.notBackupKeys(), List.of());
        }
        List<String> remove = new ArrayList<>(plan.removed());
        Collections.reverse(remove); // newest first: dependants before what they need
        List<String> deleted = new ArrayList<>();
        try {
            for (String id : remove) {
                lock.checkStillHeld();
                try {
                    repo.delete(id);
                    deleted.add(id);
                } catch (BackupNotFoundException e) {
                    // deleted by hand meanwhile: nothing left to do
                }
            }
        } catch (RuntimeException e) {
            throw new PruneFailedException(partial(plan, deleted, listing), e);
        }
        // Clean-up of interrupted uploads is a courtesy: a store without ListMultipartUploads
        // (501) or another failure to reach or read it does not undo or hide the deletions made.
        List<String> warnings = new ArrayList<>();
        int uploads = 0;
        try {
            uploads = repo.removeStaleUploads(STALE_UPLOAD_AGE);
        } catch (IOException | UncheckedIOException | SynapseBackupException e) {
            if (e instanceof InterruptedIOException || Thread.currentThread().isInterrupted()
                    || (e instanceof SynapseBackupException se && se.exitCode() == SynapseBackupException.INTERRUPTED)) {
                throw new PruneFailedException(partial(plan, deleted, listing), new SynapseBackupException(
                        SynapseBackupException.INTERRUPTED, "interrupted while cleaning up interrupted uploads in "
                        + repo.location(), e));
            }
            warnings.add("cannot clean up interrupted uploads in " + repo.location() + ": " + e.getMessage());
        }
        return new PruneResult(plan, false, deleted, uploads, listing.notBackups(), listing.notBackupKeys(), warnings);
    }

    /** What a real run had done when it failed: the plan and the deletions made. */
    private static PruneResult partial(PrunePlan plan, List<String> deleted, RepositoryListing listing) {
        return new PruneResult(plan, false, deleted, 0, listing.notBackups(), listing.notBackupKeys(), List.of());
    }
}
