package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.restore.RestoreOptions;
import dev.synapsebackup.restore.RestoreResult;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "restore",
        header = "Restore a backup into the live Synapse, or into a directory.",
        description = {
            "Nothing live is touched until the whole backup has been downloaded, decrypted, its integrity code (MDC)"
                + " checked and every file matched against the manifest, in staging directories beside the live"
                + " paths. Then Synapse is stopped (with service.stop-command, else SIGTERM to the pid in"
                + " homeserver.yaml's pid_file), each live path is renamed aside and the restored one renamed into"
                + " place, and Synapse is started again (service.start-command). Any failure rolls back.",
            "",
            "With --target DIR the backup is restored into an empty directory, as `tar -x -C DIR` would, without"
                + " service control. With --print-command the tool prints the stock-tools procedure"
                + " (aws s3 cp ... - | gpg --decrypt ... | tar -x -C ...) as a bash script that stops at the first"
                + " failing step and moves the result into place only if every step succeeded, and exits."},
        footer = {
            "  synapse-backup restore backup-20261122031930123456 --dry-run",
            "  synapse-backup restore backup-20261122031930123456",
            "  synapse-backup restore backup-20261122031930123456 --target /srv/restore-check",
            "  synapse-backup restore backup-20261122031930123456 --print-command"})
final class RestoreCommand extends OneBackupCommand {

    @Option(names = "--target", paramLabel = "DIR", description = "Restore into DIR (empty or absent), as tar -x -C DIR would; no service control.")
    Path target;

    @Option(names = "--dry-run", description = "Download, decrypt and verify fully; print what would change; touch nothing.")
    boolean dryRun;

    @Option(names = "--no-service", description = "Synapse is already stopped: do not stop or start it (refused if its pid file names a live process).")
    boolean noService;

    @Option(names = "--keep-previous", description = "Keep the replaced live data beside it as <name>.pre-restore-<id>.")
    boolean keepPrevious;

    @Option(names = "--drop-existing", description = "PostgreSQL: if the database already has tables, replace its"
            + " contents in one transaction (kept in schema public_pre_restore_<id> with --keep-previous) instead of refusing.")
    boolean dropExisting;

    @Option(names = "--print-command", description = "Print the stock-tools restore procedure and the AWS_* variables it needs, then exit.")
    boolean printCommand;

    @Override
    int run(SynapseBackup sb, String id, Output out) {
        if (printCommand) {
            Path dir = target != null ? target.toAbsolutePath() : Path.of("/tmp/synapse-restore-" + id);
            for (String line : sb.restoreCommandWith(id, dir, this::opener)) {
                out.result(line);
            }
            return 0;
        }
        out.info("Restore: " + (dryRun ? "checking " : "restoring ") + id + " from " + sb.repository().location()
                + (target != null ? " into " + target.toAbsolutePath() : ""));
        RestoreResult r = sb.restore(id, new RestoreOptions(opener(), target, dryRun, noService,
                keepPrevious, ConsoleProgress.forCommand(out), dropExisting));
        figures.bytes = r.storedBytes();
        figures.files = r.fileCount();
        if (out.json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("backup-id", r.backupId());
            m.put("mode", r.mode());
            m.put("files", r.fileCount());
            m.put("file-bytes", r.fileBytes());
            m.put("stored-bytes", r.storedBytes());
            Output.putTiming(m, r.duration(), r.throughputMBps());
            m.put("changes", r.changes());
            m.put("kept", r.kept());
            m.put("notes", r.notes());
            out.json(m);
            return 0;
        }
        for (String c : r.changes()) {
            out.result((dryRun ? "would " : "") + c);
        }
        for (String k : r.kept()) {
            out.info("kept " + k);
        }
        for (String n : r.notes()) {
            out.warn(n);
        }
        out.result(String.format(Locale.ROOT, "%s: %s, %d files, %s%s in %.1f s (%.1f MB/s)",
                dryRun ? "ok (dry run, nothing changed)" : "restored", r.backupId(), r.fileCount(),
                Sizes.human(r.fileBytes()), dryRun ? " verified" : "", r.duration().toMillis() / 1000.0,
                r.throughputMBps()));
        return 0;
    }
}
