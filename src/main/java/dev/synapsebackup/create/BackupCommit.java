package dev.synapsebackup.create;

import dev.synapsebackup.crypto.EncryptionKey;
import dev.synapsebackup.crypto.Encryptor;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectWriter;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.repository.RepositoryLock;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.apache.commons.io.output.CountingOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end and the start of a run's life in the repository: the encrypted manifest, stored once
 * the data object is complete, is the backup's commit marker (SPEC §3); a run that fails before
 * it leaves no data object. Before a run uploads anything, what killed runs left is removed.
 */
final class BackupCommit {
    private static final Logger LOG = LoggerFactory.getLogger(BackupCommit.class);
    /** Uploads older than this are of runs that died: no run lasts that long. */
    static final Duration STALE_UPLOAD = Duration.ofDays(1);
    /** What the encryption adds to the manifest, at most (packet headers, the MDC). */
    private static final long MANIFEST_ENCRYPTION_OVERHEAD = 4096;

    private final Repository repo;

    BackupCommit(Repository repo) {
        this.repo = repo;
    }

    /** Removes the leftover uploads of interrupted runs; a failure to do so is only logged. */
    void removeLeftovers() {
        try {
            int removed = repo.removeStaleUploads(STALE_UPLOAD);
            if (removed > 0) {
                LOG.info("removed {} leftover upload(s) of interrupted runs from {}", removed, repo.location());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot clean up leftover uploads in {}: {}", repo.location(), e.getMessage());
        }
    }

    /**
     * Stores the manifest of backup {@code id}, whose data object is complete, encrypted under
     * {@code key}, if {@code lock} is still this run's. On failure the data object is removed.
     */
    void commit(String id, Path manifestFile, EncryptionKey key, RepositoryLock lock) throws IOException {
        commit(id, manifestFile, Encryptor.of(key), lock);
    }

    /** What was stored as the manifest object: its size and the SHA-256 of its (encrypted) bytes. */
    record Stored(long size, String sha256) {
    }

    /** As {@link #commit(String, Path, EncryptionKey, RepositoryLock)}, encrypted by {@code encryptor}. */
    Stored commit(String id, Path manifestFile, Encryptor encryptor, RepositoryLock lock) throws IOException {
        boolean committed = false;
        try {
            lock.checkStillHeld();
            try (ObjectWriter mw = repo.create(BackupId.manifestKey(id),
                    Files.size(manifestFile) + MANIFEST_ENCRYPTION_OVERHEAD, Map.of());
                 InputStream in = Files.newInputStream(manifestFile)) {
                // The bytes stored, hashed on the way: the host state is checked against them later.
                MessageDigest sha = Sha256.newDigest();
                CountingOutputStream counted = new CountingOutputStream(new DigestOutputStream(mw, sha));
                OutputStream enc = encryptor.encrypt(counted, UnaryOperator.identity());
                in.transferTo(enc);
                enc.close();
                mw.commit();
                committed = true;
                return new Stored(counted.getByteCount(), Sha256.hex(sha.digest()));
            }
        } finally {
            if (!committed) {
                removeDataObjectWithoutManifest(id);
            }
        }
    }

    /**
     * A run that fails (or is interrupted) after its data object was stored, before its manifest
     * was: leaves no data object (SPEC §3). Unless the manifest did arrive (only its answer was
     * lost), in which case the backup is complete and stays.
     */
    private void removeDataObjectWithoutManifest(String id) {
        boolean interrupted = Thread.interrupted(); // the S3 client starts no request on an interrupted thread
        try {
            if (repo.stat(BackupId.manifestKey(id)).isEmpty()) {
                repo.deleteObject(id);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot remove the data object {} of this failed run from {}: {} (prune removes it after a day)",
                    id, repo.location(), e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
