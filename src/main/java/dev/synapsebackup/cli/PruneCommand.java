package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.retention.KeepPolicy;
import dev.synapsebackup.retention.PrunePlan;
import dev.synapsebackup.retention.Pruner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "prune",
        header = "Remove the backups that no keep rule keeps.",
        description = {
            "The rules are restic's `forget` rules, applied under the repository lock. Each counting rule keeps the"
                + " newest backup of each of the N newest hours, days, ISO weeks, months or years (UTC) that have"
                + " one. --keep-last N keeps the N newest backups; --keep-within D keeps every backup newer than the"
                + " newest backup minus D. A backup that a kept backup needs files from is kept too. The charm's"
                + " backups (no manifest) count like full ones, by date; unfinished ones are removed once they are a"
                + " day old. Only backups are touched: other objects under the prefix (nested keys, other names) are"
                + " left alone.",
            "",
            "A kept backup that the passphrase does not open is named on stderr and kept together with the chain"
                + " its metadata names; prune goes on with the rest.",
            "",
            "A backup that the bucket still retains (S3 Object Lock) is kept whatever the rules say, with the reason"
                + " \"kept: under retention until TIME\", and so is every backup it needs; a later prune removes it"
                + " once its retention has ended. prune still exits with code 0.",
            "",
            "Prints one line per backup, oldest first: keep|remove  ID  TIME  REASONS."},
        footer = {
            "  synapse-backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --dry-run",
            "  synapse-backup prune --keep-last 3 --keep-within 14d"})
final class PruneCommand extends BaseCommand {
    @Option(names = "--keep-last", paramLabel = "N", converter = Count.class, description = "Keep the N newest backups.")
    int last;

    @Option(names = "--keep-hourly", paramLabel = "N", converter = Count.class, description = "Keep the newest backup of each of the last N hours with one.")
    int hourly;

    @Option(names = "--keep-daily", paramLabel = "N", converter = Count.class, description = "Keep the newest backup of each of the last N days with one.")
    int daily;

    @Option(names = "--keep-weekly", paramLabel = "N", converter = Count.class, description = "Same for ISO weeks.")
    int weekly;

    @Option(names = "--keep-monthly", paramLabel = "N", converter = Count.class, description = "Same for months.")
    int monthly;

    @Option(names = "--keep-yearly", paramLabel = "N", converter = Count.class, description = "Same for years.")
    int yearly;

    @Option(names = "--keep-within", paramLabel = "DURATION",
            description = "Keep every backup newer than the newest backup minus DURATION (e.g. 7d, 36h, 1y6m).")
    String within;

    @Option(names = "--dry-run", description = "Print the decisions, delete nothing (takes no lock).")
    boolean dryRun;

    @Override
    public Integer call() {
        Output out = output();
        KeepPolicy policy = new KeepPolicy(last, hourly, daily, weekly, monthly, yearly,
                within == null ? KeepPolicy.Within.NONE : KeepPolicy.Within.parse(within));
        // First: without a rule, that is the error reported, whatever else is wrong.
        policy.requireNotEmpty();
        try (SynapseBackup sb = openBackup()) {
            Pruner.PruneResult r;
            RuntimeException failure = null;
            try {
                r = sb.prune(policy, dryRun, this::passphrase);
            } catch (Pruner.PruneFailedException e) {
                // Report what was deleted before the failure, then fail with it.
                r = e.partial();
                failure = e.getCause() instanceof RuntimeException re ? re : e;
            }
            report(out, r, failure != null);
            if (failure != null) {
                throw failure;
            }
            return 0;
        }
    }

    private static void report(Output out, Pruner.PruneResult r, boolean failed) {
        PrunePlan plan = r.plan();
        plan.warnings().forEach(out::warn);
        r.warnings().forEach(out::warn);
        if (out.json) {
            List<Map<String, Object>> backups = new ArrayList<>();
            for (PrunePlan.Decision d : plan.decisions()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("backup-id", d.id());
                m.put("time", Output.time(d.time()));
                m.put("kind", d.kind().name().toLowerCase(Locale.ROOT));
                m.put("action", d.action().word());
                m.put("reasons", d.reasons());
                backups.add(m);
            }
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("dry-run", r.dryRun());
            doc.put("backups", backups);
            doc.put("kept", plan.kept());
            List<Map<String, Object>> retained = new ArrayList<>();
            plan.retained().forEach((id, until) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("backup-id", id);
                m.put("retained-until", Output.time(until));
                retained.add(m);
            });
            doc.put("retained", retained);
            doc.put("removed", r.dryRun() ? plan.removed() : r.deleted());
            doc.put("removed-uploads", r.removedUploads());
            doc.put("not-backups", r.notBackups());
            List<String> warnings = new ArrayList<>(plan.warnings());
            warnings.addAll(r.warnings());
            doc.put("warnings", warnings);
            if (failed) {
                doc.put("failed", true);
            }
            out.json(doc);
            return;
        }
        Set<String> deleted = Set.copyOf(r.deleted());
        for (PrunePlan.Decision d : plan.decisions()) {
            // After a failure, a backup planned for removal that is still there says so.
            String word = failed && d.action() == PrunePlan.Action.REMOVE && !deleted.contains(d.id())
                    ? "failed" : d.action().word();
            out.result(String.format("%-6s  %s  %s  %s", word, d.id(), Output.time(d.time()), String.join("; ", d.reasons())));
        }
        if (r.notBackups() > 0) {
            out.result("left alone: " + r.notBackups() + (r.notBackups() == 1 ? " object" : " objects")
                    + " under the prefix that " + (r.notBackups() == 1 ? "is" : "are") + " not a backup (e.g. "
                    + String.join(", ", r.notBackupKeys()) + ")");
        }
        int removed = r.dryRun() ? plan.removed().size() : r.deleted().size();
        out.result((r.dryRun() ? "dry run: would keep " : "kept ") + plan.kept().size()
                + (plan.retained().isEmpty() ? "" : " (" + plan.retained().size() + " under retention)") + ", "
                + (r.dryRun() ? "would remove " : "removed ") + removed + " of " + plan.decisions().size() + " backups"
                + (failed ? " before failing" : "")
                + (r.removedUploads() > 0 ? "; removed " + r.removedUploads() + " interrupted uploads" : ""));
    }

    /** A keep count: a number >= 0, or "unlimited". */
    static final class Count implements CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            if (value.equalsIgnoreCase("unlimited")) {
                return KeepPolicy.UNLIMITED;
            }
            try {
                int n = Integer.parseInt(value);
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new CommandLine.TypeConversionException("'" + value + "' is not a count (a number >= 0 or \"unlimited\")");
        }
    }
}
