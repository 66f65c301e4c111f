package dev.synapsebackup.retention;

import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.manifest.Roots;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.Repository;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Writes backups into a repository without running {@code create}: data objects with or without
 * the format marker, and real encrypted manifests (docs/FORMAT.md) whose files name other backups.
 */
public final class FakeBackups {
    /** The passphrase of the manifests written. */
    public static final String PASSPHRASE = "correct horse battery staple";

    private final Repository repo;

    public FakeBackups(Repository repo) {
        this.repo = repo;
    }

    /**
     * A complete backup: data object with the marker, and a manifest with one file stored in
     * itself plus one file stored in each of {@code dependsOn}.
     */
    public FakeBackups complete(String id, String... dependsOn) {
        try {
            repo.put(id, ("data of " + id).getBytes(StandardCharsets.UTF_8), Map.of(BackupId.FORMAT_METADATA, "1"));
            ByteArrayOutputStream json = new ByteArrayOutputStream();
            Instant created = BackupId.timeOf(id).orElse(Instant.parse("2024-01-01T00:00:00Z"));
            ManifestSummary h = new ManifestSummary(1, id, created, "test", "example.org",
                    dependsOn.length == 0 ? "full" : "incremental", dependsOn.length == 0 ? null : dependsOn[dependsOn.length - 1],
                    dependsOn.length == 0 ? id : dependsOn[0],
                    new Roots(List.of("/etc/matrix-synapse"), List.of(), List.of(), List.of()), DatabaseRecord.fromManifest(Map.of("engine", "sqlite3")), List.of(), 0, 0);
            try (Manifest.Writer w = new Manifest.Writer(json, h)) {
                w.file(file("etc/matrix-synapse/homeserver.yaml", id));
                int n = 0;
                for (String d : dependsOn) {
                    w.file(file("var/lib/matrix-synapse/media/local_content/f" + (n++), d));
                }
                w.finish(DatabaseRecord.fromManifest(Map.of("engine", "sqlite3")), List.of());
            }
            repo.put(BackupId.manifestKey(id), OpenPgp.encrypt(json.toByteArray(), Secret.of(PASSPHRASE)), Map.of());
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ManifestFile file(String path, String backup) {
        return new ManifestFile(path, 3, Instant.parse("2024-01-01T00:00:00Z"), 0640, 0, 0,
                "0".repeat(64), backup);
    }

    /** A backup made by another tool (the charm): no marker, no manifest. */
    public FakeBackups foreign(String id) {
        return raw(id, Map.of());
    }

    /** An unfinished backup: our marker, but no manifest. */
    public FakeBackups unfinished(String id) {
        return raw(id, Map.of(BackupId.FORMAT_METADATA, "1"));
    }

    private FakeBackups raw(String id, Map<String, String> metadata) {
        try {
            repo.put(id, ("data of " + id).getBytes(StandardCharsets.UTF_8), metadata);
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
