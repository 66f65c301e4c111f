package dev.synapsebackup.create;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.synapsebackup.config.ConfigLoader;
import dev.synapsebackup.io.Sha256;
import dev.synapsebackup.manifest.Manifest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * What {@code create} keeps on the host when it encrypts to public keys and so cannot decrypt
 * the parent's manifest: the plaintext of the newest manifest it wrote, and a record of what the
 * repository holds for it (docs/FORMAT.md, "Host state"). Files are named by the repository (a
 * hash of its location), written to a temporary name, fsynced and renamed; the directory is
 * {@code 0700} and the files {@code 0600}, as the manifest lists every file of the server.
 */
final class HostState {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int VERSION = 1;

    private final Path dir;
    private final String repository;
    private final String prefix;

    /** What the record says. */
    record Record(String backupId, long manifestObjectSize, String manifestObjectSha256, String manifestSha256) {
    }

    /**
     * @param dir        the state directory (config {@code state-directory})
     * @param repository the repository's location, which names its files
     */
    HostState(Path dir, String repository) {
        this.dir = dir;
        this.repository = repository;
        this.prefix = Sha256.hexOf(repository.getBytes(StandardCharsets.UTF_8)).substring(0, 32);
    }

    Path directory() {
        return dir;
    }

    /** The record file of this repository. */
    Path recordFile() {
        return dir.resolve(prefix + ".json");
    }

    /** The plaintext manifest of backup {@code id}. */
    Path manifestFile(String id) {
        return dir.resolve(prefix + "." + id + ".manifest.json");
    }

    /** The record, if there is one that can be read; {@code why} is told what is wrong otherwise. */
    Optional<Record> read(StringBuilder why) {
        Path f = recordFile();
        if (!Files.exists(f)) {
            why.append("no state for ").append(repository).append(" in ").append(dir)
                    .append(" (the first run encrypting to public keys here, or the state directory was lost)");
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(f.toFile());
            if (n.path("version").asInt() != VERSION || !repository.equals(n.path("repository").asText())) {
                why.append(f).append(" is of another version or repository");
                return Optional.empty();
            }
            return Optional.of(new Record(n.path("backup-id").asText(), n.path("manifest-object-size").asLong(-1),
                    n.path("manifest-object-sha256").asText(), n.path("manifest-sha256").asText()));
        } catch (IOException e) {
            why.append(f).append(" cannot be read (").append(e.getMessage()).append(")");
            return Optional.empty();
        }
    }

    /**
     * The kept manifest of {@code id}, copied to {@code target}, if the record names {@code id} with
     * exactly the encrypted manifest the repository holds ({@code size}, {@code sha256}), and the
     * kept file is the one recorded. {@code why} is told what is wrong otherwise.
     */
    Optional<Path> manifest(String id, long size, String sha256, Path target, StringBuilder why) throws IOException {
        Optional<Record> r = read(why);
        if (r.isEmpty()) {
            return Optional.empty();
        }
        Record rec = r.get();
        if (!id.equals(rec.backupId())) {
            why.append("the state in ").append(dir).append(" is of backup ").append(rec.backupId())
                    .append(", not of ").append(id).append(", the newest in the repository");
            return Optional.empty();
        }
        if (rec.manifestObjectSize() != size || !sha256.equals(rec.manifestObjectSha256())) {
            why.append("the manifest of ").append(id).append(" in the repository is not the one this host wrote"
                    + " (size or SHA-256 differs from ").append(recordFile()).append(")");
            return Optional.empty();
        }
        Path kept = manifestFile(id);
        if (!Files.isRegularFile(kept)) {
            why.append(kept).append(" is missing");
            return Optional.empty();
        }
        MessageDigest sha = Sha256.newDigest();
        try (InputStream in = new DigestInputStream(Files.newInputStream(kept), sha)) {
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        if (!Sha256.hex(sha.digest()).equals(rec.manifestSha256())) {
            why.append(kept).append(" has changed since it was written");
            return Optional.empty();
        }
        if (!id.equals(Manifest.headerBackupId(target))) {
            why.append(kept).append(" names another backup");
            return Optional.empty();
        }
        return Optional.of(target);
    }

    /**
     * Keeps {@code manifestFile} as the manifest of the new newest backup {@code id}, whose
     * encrypted manifest in the repository has {@code stored}'s size and SHA-256; then removes
     * the older kept manifests of this repository.
     */
    void save(String id, Path manifestFile, BackupCommit.Stored stored) throws IOException {
        createDirectory();
        removeTemporaries();
        MessageDigest sha = Sha256.newDigest();
        Path kept = manifestFile(id);
        Path tmp = Files.createTempFile(dir, tmpPrefix(), ".json"); // 0600
        try {
            try (InputStream in = new DigestInputStream(Files.newInputStream(manifestFile), sha);
                 OutputStream out = Files.newOutputStream(tmp)) {
                in.transferTo(out);
            }
            sync(tmp);
            Files.move(tmp, kept, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            ObjectNode n = JSON.createObjectNode();
            n.put("version", VERSION);
            n.put("repository", repository);
            n.put("backup-id", id);
            n.put("manifest-object-size", stored.size());
            n.put("manifest-object-sha256", stored.sha256());
            n.put("manifest-sha256", Sha256.hex(sha.digest()));
            tmp = Files.createTempFile(dir, tmpPrefix(), ".json");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
            sync(tmp);
            Files.move(tmp, recordFile(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            syncDirectory();
        } finally {
            Files.deleteIfExists(tmp);
        }
        try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, prefix + ".backup-*.manifest.json")) {
            for (Path p : old) {
                if (!p.equals(kept)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * Temporary files are named by the repository: only this repository's (whose lock this run
     * holds) are leftovers of a killed run; another repository's run may be writing its own.
     */
    private String tmpPrefix() {
        return ".tmp-" + prefix + "-";
    }

    /** Removes what a run killed while saving left behind (a plaintext manifest among them). */
    private void removeTemporaries() throws IOException {
        try (DirectoryStream<Path> left = Files.newDirectoryStream(dir, tmpPrefix() + "*")) {
            for (Path p : left) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A warning when users other than the owner can get at the state directory, which lists every file. */
    Optional<String> accessWarning() {
        return ConfigLoader.readableByOthers(dir, "holds the plaintext manifest of the newest backup");
    }

    private void createDirectory() throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        if (dir.getParent() != null) {
            Files.createDirectories(dir.getParent());
        }
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
            // another run made it meanwhile
        }
    }

    private static void sync(Path f) throws IOException {
        try (FileChannel c = FileChannel.open(f, StandardOpenOption.WRITE)) {
            c.force(true);
        }
    }

    private void syncDirectory() {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        } catch (IOException e) {
            // some file systems cannot sync a directory: the renames are still atomic
        }
    }
}
