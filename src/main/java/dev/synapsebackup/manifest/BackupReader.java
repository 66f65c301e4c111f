package dev.synapsebackup.manifest;

import dev.synapsebackup.BackupNotFoundException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/** Reading side of a backup shared by show, verify and restore: which objects exist, the manifest. */
public final class BackupReader {
    private BackupReader() {
    }

    /** The data object of {@code id}; {@link BackupNotFoundException} if there is none. */
    public static ObjectInfo dataObject(Repository repo, String id) throws IOException {
        if (!BackupId.isPlausible(id)) {
            throw new BackupNotFoundException(id);
        }
        Optional<ObjectInfo> o = repo.stat(id);
        if (o.isEmpty()) {
            throw new BackupNotFoundException(id);
        }
        return o.get();
    }

    /** Whether the backup has its manifest. */
    public static boolean hasManifest(Repository repo, String id) throws IOException {
        return repo.stat(BackupId.manifestKey(id)).isPresent();
    }

    /**
     * Downloads and decrypts {@code <id>.manifest} into {@code dir}, verifying its MDC, and returns
     * the file.
     */
    public static Path fetchManifest(Repository repo, String id, Secret passphrase, Path dir) throws IOException {
        return fetchManifest(repo, id, Opener.passphrase(passphrase), dir);
    }

    /** As {@link #fetchManifest(Repository, String, Secret, Path)}, opened by {@code opener}. */
    public static Path fetchManifest(Repository repo, String id, Opener opener, Path dir) throws IOException {
        Path file = dir.resolve(id + ".manifest.json");
        try (InputStream raw = repo.open(BackupId.manifestKey(id));
             InputStream plain = opener.decrypt(raw);
             OutputStream out = Files.newOutputStream(file)) {
            plain.transferTo(out);
        }
        String named = Manifest.headerBackupId(file); // callers read what else they need
        if (!id.equals(named)) {
            throw new dev.synapsebackup.IntegrityException("the manifest of " + id + " names another backup ("
                    + named + "): objects were renamed or mixed up");
        }
        return file;
    }

    /** Entry names of the files a manifest lists as skipped. */
    public static Set<String> skippedEntries(ManifestSummary s) {
        Set<String> r = new HashSet<>();
        for (ManifestSummary.Skipped k : s.skipped()) {
            r.add(Manifest.entryName(Path.of(k.path())));
        }
        return r;
    }

    public static Path tempDir(Path base) throws IOException {
        // In the run's work directory: removed by the next run if this one is killed.
        return Files.createTempDirectory(base == null ? dev.synapsebackup.io.WorkDir.get()
                : dev.synapsebackup.io.WorkDir.under(base), "read-");
    }

    public static SynapseBackupException unfinished(String id) {
        return new SynapseBackupException("backup " + id + " is unfinished: its run stopped before the manifest was"
                + " written, so it cannot be trusted; delete it or let prune remove it");
    }
}
