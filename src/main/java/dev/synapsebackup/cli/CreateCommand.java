package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.create.CreateOptions;
import dev.synapsebackup.create.CreateResult;
import dev.synapsebackup.crypto.Recipients;
import dev.synapsebackup.manifest.ManifestSummary;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "create",
        header = "Make an encrypted backup of the homeserver.",
        description = {
            "Backs up what homeserver.yaml names: the signing keys, the configuration, the database (SQLite through"
                + " its online backup API, PostgreSQL through pg_dump) and the local media (local_content and"
                + " local_thumbnails). The backup is incremental when it can be: it then stores only the files that"
                + " changed since the newest backup. A full backup is made when there is none yet, with --full, when"
                + " the last full backup is older than --full-every, or with --new-passphrase.",
            "",
            "The passphrase must open the newest backup in the repository; otherwise create stops with exit code 5,"
                + " so that a wrong passphrase file cannot quietly start a second chain. To change the passphrase on"
                + " purpose, pass --new-passphrase once.",
            "",
            "With encryption.recipients the backup is encrypted to those public keys and no secret is needed. This host"
                + " cannot decrypt the newest manifest, so it keeps it in --state-directory for the next incremental"
                + " backup; without it (lost, or not matching the repository) the next backup is a full one, with a"
                + " warning. A repository uses one scheme: switching between passphrase and recipients also needs"
                + " --new-passphrase.",
            "",
            "The last line on stdout is the new backup id."},
        footer = {
            "  synapse-backup create",
            "  synapse-backup create --config /etc/synapse-backup/config.yaml --quiet",
            "  synapse-backup create --full --json",
            "  synapse-backup create --new-passphrase --passphrase-file /etc/synapse-backup/new-passphrase"})
final class CreateCommand extends BaseCommand {
    @Option(names = "--include-remote-media",
            description = "Also back up remote_content and remote_thumbnail (cached copies of other servers' media).")
    boolean includeRemoteMedia;

    @Option(names = "--temp-dir", paramLabel = "DIR",
            description = "Where the database snapshot is made (needs room for one copy of the database; default: TMPDIR).")
    Path tempDir;

    @Option(names = "--full", description = "Make a full backup even if an incremental one could be made.")
    boolean full;

    @Option(names = "--full-every", paramLabel = "DURATION",
            description = "Make a full backup when the last one is older than this (e.g. 7d, 12h; config key full-every; default 7d).")
    String fullEvery;

    @Option(names = "--new-passphrase",
            description = "The passphrase changes on purpose: start a new full chain even though the passphrase does not"
                    + " open the newest backup (without this flag that is refused with exit code 5).")
    boolean newPassphrase;

    @Option(names = "--state-directory", paramLabel = "DIR",
            description = "With encryption.recipients: where the newest manifest is kept for the next incremental backup"
                    + " (config key state-directory; default /var/lib/synapse-backup).")
    Path stateDirectory;

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config = loadConfig();
        // Public keys: no secret at all on this host, so nothing to ask for.
        Recipients recipients = config.publicKeyEncryption() ? recipients() : null;
        Secret passphrase = recipients == null ? confirmedPassphrase() : null;
        try (SynapseBackup sb = openBackup()) {
            out.info("Backup: creating a backup in " + sb.repository().location()
                    + (recipients == null ? "" : ", encrypted to " + recipients.fingerprints()));
            Duration every = fullEvery != null ? ConfigLoader.parseDuration(fullEvery, "--full-every") : config.fullEvery();
            CreateResult r = sb.create(new CreateOptions(passphrase, includeRemoteMedia, tempDir,
                    ConsoleProgress.forCommand(out), full, every, newPassphrase, recipients,
                    stateDirectory != null ? stateDirectory : config.stateDirectory()));
            figures.backupId = r.backupId();
            figures.bytes = r.storedBytes();
            figures.files = r.fileCount();
            if (out.json) {
                out.json(json(r));
            } else {
                out.info(String.format(Locale.ROOT, "Backup: %s backup%s: %d files (%s), %d archived (%s), %s stored in %.1f s"
                        + " (%.1f MB/s)%s", r.kind(), r.parent() == null ? "" : " on top of " + r.parent(),
                        r.fileCount(), Sizes.human(r.sourceBytes()), r.archivedFiles(), Sizes.human(r.archivedBytes()),
                        Sizes.human(r.storedBytes()), r.duration().toMillis() / 1000.0, r.throughputMBps(),
                        r.skipped().isEmpty() ? "" : ", " + r.skipped().size() + " skipped"));
                out.result(r.backupId());
            }
            return 0;
        }
    }

    static Map<String, Object> json(CreateResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backup-id", r.backupId());
        m.put("kind", r.kind());
        m.put("parent", r.parent());
        m.put("files", r.fileCount());
        m.put("source-bytes", r.sourceBytes());
        m.put("archived-files", r.archivedFiles());
        m.put("archived-bytes", r.archivedBytes());
        m.put("stored-bytes", r.storedBytes());
        m.put("database", r.database());
        Output.putTiming(m, r.duration(), r.throughputMBps());
        List<Map<String, String>> skipped = r.skipped().stream()
                .map((ManifestSummary.Skipped s) -> Map.of("path", s.path(), "reason", s.reason())).toList();
        m.put("skipped", skipped);
        return m;
    }
}
