package dev.synapsebackup.create;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.SynapseBackupException;
import dev.synapsebackup.crypto.MessageKeys;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.repository.BackupEntry;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the parent of an incremental backup: the newest complete backup of the repository,
 * if it can serve. Its manifest is fetched and read once, into a {@link Parent}.
 */
final class ParentChoice {
    private static final Logger LOG = LoggerFactory.getLogger(ParentChoice.class);

    private final Repository repo;
    private final String serverName;
    private final CreateOptions options;
    private final HostState state;

    /**
     * @param repo       the repository, locked by this run
     * @param serverName the server this backup is of
     */
    ParentChoice(Repository repo, String serverName, CreateOptions options) {
        this(repo, serverName, options, null);
    }

    /** @param state with recipients: the host state that holds the newest manifest (this host cannot decrypt it) */
    ParentChoice(Repository repo, String serverName, CreateOptions options, HostState state) {
        this.repo = repo;
        this.serverName = serverName;
        this.options = options;
        this.state = state;
    }

    /** The message (SPEC §7) when the passphrase does not open the newest backup. */
    static String passphraseMismatch(String id) {
        return "passphrase does not open backup " + id + ", the newest in the repository";
    }

    /**
     * The newest complete backup made by this tool, by the time in its id: a listing is in the
     * order of the objects' last-modified times, which a copy of the repository (a bucket synced
     * elsewhere, a directory copied) rewrites in whatever order it copied them.
     */
    static Optional<BackupEntry> newestComplete(List<BackupEntry> entries) {
        BackupEntry newest = null;
        Instant newestTime = null;
        for (BackupEntry e : entries) {
            Optional<Instant> t = BackupId.timeOf(e.id());
            if (e.status() == BackupEntry.Status.COMPLETE && t.isPresent()
                    && (newestTime == null || !t.get().isBefore(newestTime))) {
                newest = e;
                newestTime = t.get();
            }
        }
        return Optional.ofNullable(newest);
    }

    /**
     * The parent for an incremental backup, or null for a full one: none exists yet, {@code --full},
     * {@code --new-passphrase}, the chain's full backup is older than {@code full-every}, or the
     * newest backup cannot serve (another server, a damaged manifest, a data object of its chain
     * missing; with public keys, one outside the chain its metadata names). Any other failure (a bug) fails the run rather than quietly making a full backup.
     *
     * @param now           the new backup's time
     * @param entries       the repository's backups, in id order, listed under the lock
     * @param temp          where the parent's manifest is decrypted to
     * @param databaseEntry the tar entry name of the SQLite database, whose record is looked up; or null
     * @throws IntegrityException the passphrase does not open the newest backup (without
     *         {@code --new-passphrase}): a nightly run with a wrong passphrase file must fail,
     *         not quietly start a second chain that the other passphrase cannot read
     * @throws InterruptedIOException the run was interrupted while reading the manifest
     */
    Parent choose(Instant now, List<BackupEntry> entries, Path temp, String databaseEntry) throws InterruptedIOException {
        BackupEntry newest = newestComplete(entries).orElse(null);
        if (newest == null) {
            return null;
        }
        if (options.newPassphrase()) {
            LOG.info("--new-passphrase: starting a new full chain; the passphrase of {} is not checked", newest.id());
            return null;
        }
        String why;
        try {
            Path manifestFile = options.recipients() == null ? fetch(newest.id(), temp) : kept(newest.id(), temp);
            if (manifestFile == null || options.forceFull()) {
                return null;
            }
            Parent p = read(newest.id(), manifestFile, databaseEntry);
            ManifestSummary s = p.summary();
            if (!serverName.equals(s.serverName())) {
                why = "the newest backup " + newest.id() + " is of another server (" + s.serverName() + ")";
            } else if (!now.isBefore(p.fullStart().plus(options.fullEvery()))) {
                LOG.info("the last full backup {} is older than full-every ({}): making a full backup", s.fullBackup(),
                        options.fullEvery());
                return null;
            } else {
                Optional<String> missing = missingObject(p.objects(), entries);
                Optional<String> outside = options.recipients() == null ? Optional.empty() : outsideChain(p, entries);
                if (missing.isPresent()) {
                    why = "data object " + missing.get() + " of the newest backup's chain is missing";
                } else if (outside.isPresent()) {
                    why = "the newest backup " + newest.id() + " refers to data object " + outside.get()
                            + ", which is not in the chain its metadata names; prune and delete, which cannot read"
                            + " the manifests here, would not keep it for a new incremental";
                } else {
                    return p;
                }
            }
        } catch (IntegrityException e) {
            if (e.getMessage().startsWith(passphraseMismatch(newest.id()))
                    || e.getMessage().startsWith(schemeMismatch(newest.id()))) {
                throw e;
            }
            why = "the manifest of " + newest.id() + " cannot be read (" + e.getMessage() + ")";
        } catch (InterruptedIOException e) {
            throw e; // a signal, not a damaged manifest
        } catch (IOException | UncheckedIOException | SynapseBackupException e) {
            // Only what reading a manifest can meet; a bug (an NPE, say) must fail the run, not
            // quietly make a full backup.
            if (e instanceof SynapseBackupException sbe && sbe.exitCode() == SynapseBackupException.INTERRUPTED) {
                throw sbe;
            }
            why = "the manifest of " + newest.id() + " cannot be read (" + e.getMessage() + ")";
        }
        options.progress().warn(why + ": making a full backup");
        return null;
    }

    /** Fetches and decrypts the manifest of {@code id}; a passphrase that does not open it is refused. */
    private Path fetch(String id, Path temp) throws IOException {
        try {
            return BackupReader.fetchManifest(repo, id, options.passphrase(), temp);
        } catch (IntegrityException e) {
            if (String.valueOf(e.getMessage()).startsWith(OpenPgp.NO_SKESK)) {
                throw new IntegrityException(passphraseMismatch(id) + ": it is encrypted to public keys, and this"
                        + " configuration has a passphrase and no \"encryption.recipients\"; one repository uses one scheme."
                        + " To start a new full chain under this passphrase on purpose, run create --new-passphrase", e);
            }
            if (String.valueOf(e.getMessage()).startsWith(OpenPgp.WRONG_PASSPHRASE)) {
                throw new IntegrityException(passphraseMismatch(id)
                        + "; to start a new full chain under this passphrase on purpose, run create --new-passphrase", e);
            }
            throw e;
        }
    }

    /** The start of the message when the newest backup is passphrase-encrypted and the configuration has recipients. */
    static String schemeMismatch(String id) {
        return "backup " + id + ", the newest in the repository, is encrypted with a passphrase, not to public keys";
    }

    /**
     * With recipients, this host cannot decrypt the newest manifest: its plaintext comes from the
     * host state, once checked against the encrypted manifest in the repository. Null (a full
     * backup, with a warning) when the state is missing or does not match, or the recipients
     * changed (the new ones could not open the older objects of the chain).
     *
     * @throws IntegrityException the newest backup is passphrase-encrypted (without {@code --new-passphrase})
     */
    private Path kept(String id, Path temp) throws IOException {
        Path encrypted = temp.resolve(id + ".manifest.gpg");
        MessageDigest sha = Sha256.newDigest();
        long size;
        try (InputStream raw = new DigestInputStream(repo.open(BackupId.manifestKey(id)), sha)) {
            size = Files.copy(raw, encrypted);
        }
        MessageKeys keys;
        try (InputStream in = Files.newInputStream(encrypted)) {
            keys = MessageKeys.of(in);
        } finally {
            Files.deleteIfExists(encrypted);
        }
        if (keys.keyIds().isEmpty()) {
            throw new IntegrityException(schemeMismatch(id) + " (\"encryption.recipients\" is configured): one"
                    + " repository uses one scheme. To start a new full chain encrypted to the recipients on purpose,"
                    + " run create --new-passphrase");
        }
        Set<String> ours = options.recipients().keyIds();
        if (!keys.keyIds().equals(ours)) {
            options.progress().warn("the recipients changed since " + id + " (encrypted to keys " + keys.keyIds()
                    + ", now " + ours + "): making a full backup, which every recipient can restore alone");
            return null;
        }
        if (options.forceFull()) {
            return null;
        }
        StringBuilder why = new StringBuilder();
        Optional<Path> m = state.manifest(id, size, Sha256.hex(sha.digest()), temp.resolve(id + ".manifest.json"), why);
        if (m.isEmpty()) {
            options.progress().warn(why + ": making a full backup");
            return null;
        }
        return m.get();
    }

    /** One pass over the manifest: the summary, the objects the chain's bytes are in, and the database's record. */
    static Parent read(String id, Path manifestFile, String databaseEntry) throws IOException {
        SortedSet<String> objects = new TreeSet<>(Set.of(id));
        ManifestFile database = null;
        try (Manifest.FileIterator files = Manifest.files(manifestFile)) {
            while (files.hasNext()) {
                ManifestFile f = files.next();
                objects.add(f.backup() == null ? id : f.backup());
                if (database == null && f.path().equals(databaseEntry)) {
                    database = f;
                }
            }
            return new Parent(id, manifestFile, files.summary(), objects, database);
        }
    }

    /**
     * With public keys, prune and delete know a backup's dependencies only from the metadata chain
     * (they cannot decrypt manifests): the first object the parent's manifest refers to that is
     * neither the parent nor in that chain, which they might delete from under a new incremental.
     */
    private static Optional<String> outsideChain(Parent p, List<BackupEntry> entries) {
        Set<String> chain = BackupEntry.metadataChain(p.id(), entries);
        return p.objects().stream().filter(o -> !o.equals(p.id()) && !chain.contains(o)).findFirst();
    }

    /** The first of {@code objects} (in order) that is not among the repository's backups. */
    private static Optional<String> missingObject(Set<String> objects, List<BackupEntry> entries) {
        Set<String> existing = new HashSet<>();
        entries.forEach(e -> existing.add(e.id()));
        return objects.stream().filter(o -> !existing.contains(o)).findFirst();
    }
}
