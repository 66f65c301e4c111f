package dev.synapsebackup.retention;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.IsoFields;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Decides which backups {@code prune} keeps: pure logic, no I/O.
 *
 * <p>The keep rules follow restic's {@code forget} exactly (restic's
 * {@code internal/restic/snapshot_policy.go}):
 * <ul>
 *   <li>backups are walked newest first (ties: by id, descending);</li>
 *   <li>each counting rule ({@code last}, {@code hourly}, {@code daily}, {@code weekly},
 *       {@code monthly}, {@code yearly}) keeps a backup whose period differs from the period of
 *       the last backup that rule kept, while the rule has count left; so it keeps the newest
 *       backup of each of the N newest periods that have a backup ({@code last}: every backup is
 *       its own period);</li>
 *   <li>a rule that still has count left when the walk reaches the oldest backup keeps that one
 *       too ("the oldest snapshot is kept additionally" since restic 0.17), so a short history is
 *       not cut;</li>
 *   <li>{@code within D} keeps every backup strictly newer than (newest backup time − D), where
 *       the newest backup is the newest one not in the future (restic's reference time, not
 *       "now"); D is subtracted with calendar arithmetic;</li>
 *   <li>a backup that several rules keep lists all of them.</li>
 * </ul>
 * Periods are computed in <b>UTC</b> (restic uses the local time zone): the backup ids encode UTC,
 * a server's time zone can change, and a backup run at 00:30 local time must not move to another
 * day when the tool runs elsewhere. Weeks are ISO weeks (Monday to Sunday, week-based year).
 *
 * <p>Beyond restic: unfinished backups (our marker, no manifest) take no part in the rules; they
 * are removed once older than one day (by {@code now}) and kept until then, since a run might
 * still be writing. Foreign backups (the charm's) count like full ones, by their time. Finally
 * every backup that a kept backup needs bytes from is kept, transitively, with the reason
 * {@code needed by <id> (kept)}. A backup that the store still retains (S3 Object Lock, a
 * retain-until date after {@code now}) is kept whatever the rules say, and so is what it needs.
 */
public final class PrunePlanner {
    /** Age after which an unfinished backup is removed. */
    public static final Duration UNFINISHED_GRACE = Duration.ofDays(1);
    /** How the reason of a backup kept for its retention starts. */
    public static final String RETAINED = "kept: under retention until ";

    private PrunePlanner() {
    }

    /** A counting rule, and how far the walk over the backups has got with it. */
    private static final class Rule {
        final String name;
        final int count;
        /** The period a backup's time falls in; null for {@code last}, where each backup is its own. */
        final Function<Instant, String> period;
        /** How many more backups the rule may keep ({@link KeepPolicy#UNLIMITED}: no end). */
        int left;
        /** How many backups it has kept. */
        int kept;
        /** The period of the last backup it kept. */
        String lastPeriod;

        Rule(String name, int count, Function<Instant, String> period) {
            this.name = name;
            this.count = count;
            this.period = period;
            this.left = count;
        }
    }

    /**
     * Plans a prune.
     *
     * @param candidates every backup in the repository, in any order
     * @param policy     the keep rules; must not be empty
     * @param now        the current time (only for unfinished backups and the "not in the future" rule)
     * @return one decision per candidate, oldest first
     * @throws dev.synapsebackup.ConfigException if the policy is empty
     */
    public static PrunePlan plan(List<PruneCandidate> candidates, KeepPolicy policy, Instant now) {
        policy.requireNotEmpty();
        Map<String, List<String>> keepReasons = new LinkedHashMap<>();
        Map<String, String> removeReason = new HashMap<>();
        Map<String, PruneCandidate> byId = new HashMap<>();
        for (PruneCandidate c : candidates) {
            if (byId.put(c.id(), c) != null) {
                throw new IllegalArgumentException("duplicate backup id " + c.id());
            }
        }

        List<PruneCandidate> eligible = new ArrayList<>();
        Map<String, Instant> retained = new java.util.TreeMap<>();
        for (PruneCandidate c : candidates) {
            boolean isRetained = c.retainedUntil() != null && c.retainedUntil().isAfter(now);
            if (isRetained) {
                // The store would refuse (or only hide) its deletion: kept, with what it needs.
                retained.put(c.id(), c.retainedUntil());
                reasons(keepReasons, c.id()).add(RETAINED + c.retainedUntil() + " (S3 Object Lock)");
            }
            if (c.kind() == PruneCandidate.Kind.UNFINISHED) {
                if (isRetained) {
                    continue;
                }
                if (c.time().isBefore(now.minus(UNFINISHED_GRACE))) {
                    removeReason.put(c.id(), "unfinished backup older than 1 day");
                } else {
                    reasons(keepReasons, c.id()).add("unfinished but younger than 1 day");
                }
            } else {
                eligible.add(c);
            }
        }
        eligible.sort(Comparator.comparing(PruneCandidate::time).thenComparing(PruneCandidate::id).reversed());

        List<Rule> rules = List.of(
                new Rule("last", policy.last(), null),
                new Rule("hourly", policy.hourly(), PrunePlanner::hour),
                new Rule("daily", policy.daily(), PrunePlanner::day),
                new Rule("weekly", policy.weekly(), PrunePlanner::week),
                new Rule("monthly", policy.monthly(), PrunePlanner::month),
                new Rule("yearly", policy.yearly(), PrunePlanner::year));

        Instant latest = null;
        for (PruneCandidate c : eligible) {
            if (c.time().isBefore(now) && (latest == null || c.time().isAfter(latest))) {
                latest = c.time();
            }
        }
        Instant withinCutoff = policy.within().isZero() ? null
                : policy.within().subtractFrom(latest == null ? Instant.EPOCH : latest);

        for (int nr = 0; nr < eligible.size(); nr++) {
            PruneCandidate c = eligible.get(nr);
            boolean oldest = nr == eligible.size() - 1;
            if (withinCutoff != null && c.time().isAfter(withinCutoff)) {
                reasons(keepReasons, c.id()).add("within " + policy.within() + " of the newest backup (" + latest + ")");
            }
            for (Rule r : rules) {
                if (r.left == 0) {
                    continue;
                }
                String period = r.period == null ? c.id() + "#" + nr : r.period.apply(c.time());
                boolean newPeriod = !period.equals(r.lastPeriod);
                if (newPeriod || oldest) {
                    r.lastPeriod = period;
                    r.kept++;
                    if (r.left > 0) {
                        r.left--;
                    }
                    String of = r.count == KeepPolicy.UNLIMITED ? "unlimited" : String.valueOf(r.count);
                    String what = r.period == null ? "last backup" : r.name + " backup " + period;
                    reasons(keepReasons, c.id()).add(newPeriod
                            ? what + " (" + r.kept + " of " + of + ")"
                            : "oldest backup, kept for " + r.name + " because fewer than " + of
                                    + " periods have backups (" + r.kept + " of " + of + ")");
                }
            }
            if (!keepReasons.containsKey(c.id())) {
                removeReason.put(c.id(), "no keep rule matched");
            }
        }

        // Dependencies: what a kept backup needs stays, transitively.
        List<String> warnings = new ArrayList<>();
        Deque<String> queue = new ArrayDeque<>(keepReasons.keySet());
        while (!queue.isEmpty()) {
            String id = queue.poll();
            PruneCandidate c = byId.get(id);
            for (String dep : new TreeSet<>(c.dependsOn())) {
                if (dep.equals(id)) {
                    continue;
                }
                if (!byId.containsKey(dep)) {
                    warnings.add("backup " + id + " needs files from " + dep + ", which does not exist: it cannot be restored in full");
                    continue;
                }
                boolean wasKept = keepReasons.containsKey(dep);
                if (byId.get(dep).kind() == PruneCandidate.Kind.UNFINISHED && !wasKept) {
                    // A manifest never points into an unfinished data object; if one did, keep it anyway.
                    warnings.add("backup " + id + " needs files from the unfinished backup " + dep);
                }
                reasons(keepReasons, dep).add("needed by " + id + " (kept)");
                removeReason.remove(dep);
                if (!wasKept) {
                    queue.add(dep);
                }
            }
        }

        List<PruneCandidate> ordered = new ArrayList<>(candidates);
        ordered.sort(Comparator.comparing(PruneCandidate::time).thenComparing(PruneCandidate::id));
        List<PrunePlan.Decision> decisions = new ArrayList<>();
        for (PruneCandidate c : ordered) {
            List<String> keep = keepReasons.get(c.id());
            decisions.add(keep != null
                    ? new PrunePlan.Decision(c.id(), c.time(), c.kind(), PrunePlan.Action.KEEP, keep)
                    : new PrunePlan.Decision(c.id(), c.time(), c.kind(), PrunePlan.Action.REMOVE, List.of(removeReason.get(c.id()))));
        }
        Map<String, Instant> retainedInOrder = new LinkedHashMap<>();
        for (PruneCandidate c : ordered) {
            if (retained.containsKey(c.id())) {
                retainedInOrder.put(c.id(), retained.get(c.id()));
            }
        }
        return new PrunePlan(decisions, warnings, retainedInOrder);
    }

    private static List<String> reasons(Map<String, List<String>> m, String id) {
        return m.computeIfAbsent(id, k -> new ArrayList<>());
    }

    private static LocalDateTime utc(Instant t) {
        return LocalDateTime.ofInstant(t, ZoneOffset.UTC);
    }

    static String hour(Instant t) {
        LocalDateTime d = utc(t);
        return String.format("%s %02d:00Z", d.toLocalDate(), d.getHour());
    }

    static String day(Instant t) {
        return utc(t).toLocalDate().toString();
    }

    static String week(Instant t) {
        LocalDateTime d = utc(t);
        return String.format("%d-W%02d", d.get(IsoFields.WEEK_BASED_YEAR), d.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
    }

    static String month(Instant t) {
        LocalDateTime d = utc(t);
        return String.format("%d-%02d", d.getYear(), d.getMonthValue());
    }

    static String year(Instant t) {
        return String.valueOf(utc(t).getYear());
    }
}
