package dev.synapsebackup.cli;

import dev.synapsebackup.ConfigException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.manifest.PassphraseCheck;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryListing;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(name = "list",
        header = "List the backups in the repository, oldest first.",
        description = {
            "Prints a table with the columns backup-id | last-modified | size | kind | parent | status."
                + " last-modified is the UTC time the data object was stored; size is in bytes and in binary units;"
                + " kind is full or incremental; parent is the backup an incremental one builds on.",
            "",
            "status is one of: complete; unfinished (a run died before writing the manifest, so the backup cannot"
                + " be restored); foreign (no manifest: made by another tool, such as the Synapse charm);"
                + " other-passphrase (the configured passphrase does not open it); unreadable (its manifest is"
                + " damaged). The last two are only checked when a passphrase is configured (list never prompts);"
                + " each such backup is also named on stderr."},
        footer = {
            "  synapse-backup list",
            "  synapse-backup list --json --repo /var/backups/synapse"})
final class ListCommand extends BaseCommand {
    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config = loadConfig();
        try (Repository repo = openRepository()) {
            RepositoryListing listing = repo.listing();
            List<BackupEntry> backups = listing.backups();
            if (listing.notBackups() > 0) {
                out.info(listing.notBackups() + (listing.notBackups() == 1 ? " object" : " objects")
                        + " under the prefix " + (listing.notBackups() == 1 ? "is" : "are") + " not a backup (not listed)");
            }
            // Only a configured passphrase is checked: list never prompts.
            Map<String, PassphraseCheck.Unopened> unopened = new HashMap<>();
            if (config.passphrase().isPresent()) {
                Secret passphrase = null;
                try {
                    passphrase = config.passphrase().get().read();
                } catch (ConfigException e) {
                    // Listing needs no passphrase: say why nothing was checked, and list.
                    out.warn(e.getMessage() + ": not checked which backups the passphrase opens");
                }
                if (passphrase != null) {
                    for (PassphraseCheck.Unopened u : PassphraseCheck.unopened(repo, backups, passphrase)) {
                        unopened.put(u.id(), u);
                        out.warn(u.message());
                    }
                }
            }
            if (out.json) {
                Map<String, Object> all = new LinkedHashMap<>();
                for (BackupEntry b : backups) {
                    Map<String, Object> one = new LinkedHashMap<>();
                    one.put("last-modified", Output.time(b.lastModified()));
                    one.put("size", b.size());
                    one.put("status", status(b, unopened));
                    one.put("kind", kind(b));
                    one.put("parent", b.parent());
                    all.put(b.id(), one);
                }
                out.json(Map.of("backups", all));
                return 0;
            }
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"backup-id", "last-modified", "size", "kind", "parent", "status"});
            for (BackupEntry b : backups) {
                rows.add(new String[] {b.id(),
                    Output.time(b.lastModified()),
                    b.size() + " (" + Sizes.human(b.size()) + ")", kind(b), b.parent() == null ? "-" : b.parent(),
                    status(b, unopened)});
            }
            printTable(out, rows);
            return 0;
        }
    }

    static String kind(BackupEntry b) {
        if (b.kind() != null) {
            return b.kind();
        }
        return b.status() == BackupEntry.Status.FOREIGN ? "full" : "?";
    }

    static String status(BackupEntry b, Map<String, PassphraseCheck.Unopened> unopened) {
        PassphraseCheck.Unopened u = unopened.get(b.id());
        if (u != null) {
            return u.problem() == PassphraseCheck.Problem.OTHER_PASSPHRASE ? "other-passphrase" : "unreadable";
        }
        return switch (b.status()) {
            case COMPLETE -> "complete";
            case UNFINISHED -> "unfinished";
            case FOREIGN -> "foreign";
        };
    }

    private static void printTable(Output out, List<String[]> rows) {
        int cols = rows.get(0).length;
        int[] width = new int[cols];
        for (String[] r : rows) {
            for (int i = 0; i < cols; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < cols; i++) {
                if (i > 0) {
                    sb.append(" | ");
                }
                sb.append(i == cols - 1 ? r[i] : pad(r[i], width[i]));
            }
            out.result(sb.toString());
        }
    }

    private static String pad(String s, int w) {
        return s + " ".repeat(w - s.length());
    }
}
