package dev.synapsebackup.cli;

import dev.synapsebackup.backup.SynapseBackup;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.config.ToolConfig;
import dev.synapsebackup.create.CreateOptions;
import dev.synapsebackup.create.MediaPlan;
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

    @Option(names = "--dry-run",
            description = "Make no backup: say where the media live (the local media store; each bucket of"
                    + " synapse-s3-storage-provider in homeserver.yaml, with its objects and bytes) and how they would be"
                    + " copied.")
    boolean dryRun;

    @Override
    public Integer call() {
        Output out = output();
        ToolConfig config = loadConfig();
        if (dryRun) {
            return dryRun(out);
        }
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
                if (r.media().objects() > 0) {
                    out.info(String.format(Locale.ROOT, "Backup: media in S3: %d objects (%s), %d copied server-side,"
                            + " %d streamed", r.media().objects(), Sizes.human(r.media().bytes()), r.media().serverSide(),
                            r.media().streamed()));
                }
                out.result(r.backupId());
            }
            return 0;
        }
    }

    private int dryRun(Output out) {
        try (SynapseBackup sb = openBackup()) {
            MediaPlan plan = sb.mediaPlan(includeRemoteMedia);
            if (out.json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("dry-run", true);
                m.put("local-media-store", plan.localStore().toString());
                m.put("local-media-roots", plan.localRoots().stream().map(Path::toString).toList());
                m.put("s3-media", plan.stores().stream().map(st -> {
                    Map<String, Object> sm = new LinkedHashMap<>();
                    sm.put("location", st.location());
                    sm.put("key-prefixes", st.keyPrefixes());
                    sm.put("objects", st.objects());
                    sm.put("bytes", st.bytes());
                    sm.put("credentials", st.configCredentials() ? "homeserver.yaml" : "AWS default chain");
                    sm.put("copy", st.serverSide() ? "server-side" : "streamed");
                    sm.put("encrypted", plan.encrypted());
                    return sm;
                }).toList());
                out.json(m);
                return 0;
            }
            out.result("local media: " + plan.localStore() + (plan.localRoots().isEmpty() ? " (nothing to archive)"
                    : " (" + plan.localRoots().stream().map(p -> p.getFileName().toString())
                            .collect(java.util.stream.Collectors.joining(", ")) + ": archived in the data object)"));
            for (MediaPlan.Store st : plan.stores()) {
                out.result("media in S3: " + st.location() + ": " + st.objects() + " objects (" + Sizes.human(st.bytes())
                        + ") under " + String.join(", ", st.keyPrefixes()) + "; credentials from "
                        + (st.configCredentials() ? "homeserver.yaml" : "the AWS default chain") + "; copied "
                        + (plan.encrypted() ? "through this host, OpenPGP-encrypted (media-encryption)"
                                : st.serverSide() ? "server-side into the repository (streamed if its credentials cannot read"
                                + " the bucket)" : "through this host (the repository is on another endpoint)")
                        + (st.storeLocal() ? "" : "; store_local is false: new uploads are kept in the local store"));
            }
            if (plan.stores().isEmpty()) {
                out.result("media in S3: none (no s3_storage_provider in media_storage_providers)");
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
        if (r.media().objects() > 0 || r.media().serverSide() + r.media().streamed() > 0) {
            Map<String, Object> media = new LinkedHashMap<>();
            media.put("objects", r.media().objects());
            media.put("bytes", r.media().bytes());
            media.put("copied-server-side", r.media().serverSide());
            media.put("streamed", r.media().streamed());
            m.put("s3-media", media);
        }
        return m;
    }
}
