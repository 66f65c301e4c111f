package dev.synapsebackup.cli;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.restore.VerifyResult;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(name = "verify",
        header = "Read a whole backup back and check it.",
        description = "Downloads and decrypts backup ID (and, for an incremental backup, the older data objects it"
                + " needs), checks each object's OpenPGP integrity code (MDC), and checks every file's size and"
                + " SHA-256 against the manifest. Prints \"ok\" with figures. Exits with code 5 on any mismatch, a"
                + " wrong passphrase or corruption. A backup without a manifest (the charm's) is checked as a whole.",
        footer = {
            "  synapse-backup verify backup-20261122031930123456",
            "  synapse-backup verify backup-20261122031930123456 --json"})
final class VerifyCommand extends OneBackupCommand {
    @picocli.CommandLine.Option(names = "--all-media", description = "Read back every copy of media held in S3 whose"
            + " SHA-256 was recorded (streamed copies), not only one in " + 100 + "; every copy's presence, size and"
            + " ETag are checked either way, without downloading it.")
    boolean allMedia;

    @Override
    int run(SynapseBackup sb, String id, Output out) {
        VerifyResult r = sb.verify(id, opener(), ConsoleProgress.forCommand(out), allMedia);
        figures.bytes = r.storedBytes();
        figures.files = r.fileCount();
        if (out.json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("backup-id", r.backupId());
            m.put("status", r.ok() ? "ok" : "failed");
            m.put("mode", r.mode());
            m.put("files", r.fileCount());
            m.put("file-bytes", r.fileBytes());
            m.put("stored-bytes", r.storedBytes());
            Output.putTiming(m, r.duration(), r.throughputMBps());
            if (r.mediaObjects() > 0) {
                m.put("s3-media-objects", r.mediaObjects());
                m.put("s3-media-bytes", r.mediaBytes());
                m.put("s3-media-hashed", r.mediaHashed());
            }
            m.put("problems", r.problems());
            m.put("problem-count", r.problemCount());
            out.json(m);
        }
        if (!r.ok()) {
            for (String p : r.problems()) {
                out.error("  " + p);
            }
            if (r.problemCount() > r.problems().size()) {
                out.error("  ... and " + (r.problemCount() - r.problems().size()) + " more");
            }
            throw new IntegrityException("verify failed: " + r.problemCount() + " problem(s) in " + id);
        }
        if (!out.json) {
            out.result(String.format(Locale.ROOT, "ok: %s, %d files, %s checked%s, %s read in %.1f s (%.1f MB/s)",
                    r.backupId(), r.fileCount(), Sizes.human(r.fileBytes()),
                    r.mode().equals("whole") ? " (no manifest: checked as a whole)" : " against the manifest",
                    Sizes.human(r.storedBytes()), r.duration().toMillis() / 1000.0, r.throughputMBps()));
            if (r.mediaObjects() > 0) {
                out.result(String.format(Locale.ROOT, "media held in S3: %d copies (%s) present with their size and ETag,"
                        + " %d read back and matched their SHA-256", r.mediaObjects(), Sizes.human(r.mediaBytes()),
                        r.mediaHashed()));
            }
        }
        return 0;
    }
}
