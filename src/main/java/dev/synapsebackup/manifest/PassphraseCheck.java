package dev.synapsebackup.manifest;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Which backups a passphrase opens, for {@code list} and {@code check}: each manifest is opened
 * and only its first plaintext byte read. The OpenPGP session-key check rejects a wrong
 * passphrase before any data is decrypted, and the plaintext of a manifest starts with a JSON
 * object; a whole manifest (and its integrity code) is read by {@code show} and {@code verify}.
 */
public final class PassphraseCheck {
    /** Why a passphrase does not open a backup. */
    public enum Problem {
        /** The passphrase is not the one the backup was made with. */
        OTHER_PASSPHRASE,
        /** The manifest is damaged or not a manifest. */
        UNREADABLE
    }

    /**
     * One backup the passphrase does not open.
     *
     * @param id      the backup id
     * @param problem which kind of problem
     * @param reason  the error, for messages
     */
    public record Unopened(String id, Problem problem, String reason) {
        /** The line that names it (SPEC §7). */
        public String message() {
            return problem == Problem.OTHER_PASSPHRASE
                    ? "passphrase does not open backup " + id
                    : "the manifest of backup " + id + " cannot be read (" + reason + ")";
        }
    }

    private PassphraseCheck() {
    }

    /** Why {@code passphrase} does not open backup {@code id}, or empty if it does. */
    public static Optional<Unopened> probe(Repository repo, String id, Secret passphrase) {
        try (InputStream raw = repo.open(BackupId.manifestKey(id));
             InputStream plain = OpenPgp.decrypt(raw, passphrase)) {
            int first = plain.read();
            if (first != '{') {
                return Optional.of(new Unopened(id, Problem.UNREADABLE, "its plaintext is not a manifest"));
            }
            return Optional.empty();
        } catch (IntegrityException e) {
            boolean wrong = String.valueOf(e.getMessage()).startsWith(OpenPgp.WRONG_PASSPHRASE);
            return Optional.of(new Unopened(id, wrong ? Problem.OTHER_PASSPHRASE : Problem.UNREADABLE, e.getMessage()));
        } catch (InterruptedIOException e) {
            throw new UncheckedIOException("interrupted while reading the manifest of " + id, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of " + id + " in " + repo.location(), e);
        }
    }

    /**
     * The complete backups among {@code entries} (oldest first) that {@code passphrase} does not
     * open, in the order of {@code entries}.
     *
     * <p>One backup per chain is opened: the full backup (or the oldest listed backup of a chain
     * whose full backup is gone). An incremental backup is made only on top of a parent that the
     * same passphrase opens, so a chain has one passphrase, and its incremental backups share the
     * answer of its first: listing thousands of hourly backups costs one key derivation per full
     * backup, not one per backup. Where the first of a chain is damaged rather than under another
     * passphrase, nothing is said of the rest of its chain. A few manifests are opened at once.
     */
    public static List<Unopened> unopened(Repository repo, List<BackupEntry> entries, Secret passphrase) {
        Map<String, String> firstOfChain = new LinkedHashMap<>();
        List<String> ids = new ArrayList<>();
        String first = null;
        for (BackupEntry e : entries) {
            if (!e.hasManifest()) {
                continue;
            }
            if (first == null || !"incremental".equals(e.kind())) {
                first = e.id();
                ids.add(first);
            }
            firstOfChain.put(e.id(), first);
        }
        if (ids.isEmpty()) {
            return List.of();
        }
        Map<String, Optional<Unopened>> probed = probeAll(repo, ids, passphrase);
        List<Unopened> result = new ArrayList<>();
        firstOfChain.forEach((id, head) -> {
            Optional<Unopened> u = probed.get(head);
            if (u.isPresent() && (id.equals(head) || u.get().problem() == Problem.OTHER_PASSPHRASE)) {
                result.add(new Unopened(id, u.get().problem(), u.get().reason()));
            }
        });
        return result;
    }

    private static Map<String, Optional<Unopened>> probeAll(Repository repo, List<String> ids, Secret passphrase) {
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(4, ids.size()), r -> {
            Thread t = new Thread(r, "synapse-backup-probe");
            t.setDaemon(true);
            return t;
        });
        try {
            Map<String, Future<Optional<Unopened>>> futures = new LinkedHashMap<>();
            for (String id : ids) {
                futures.put(id, pool.submit(() -> probe(repo, id, passphrase)));
            }
            Map<String, Optional<Unopened>> result = new LinkedHashMap<>();
            for (Map.Entry<String, Future<Optional<Unopened>>> f : futures.entrySet()) {
                result.put(f.getKey(), f.getValue().get());
            }
            return result;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SynapseBackupException(SynapseBackupException.INTERRUPTED, "interrupted while reading manifests");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }
}
