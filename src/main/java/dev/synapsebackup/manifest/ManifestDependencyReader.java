package dev.synapsebackup.manifest;

import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Reads dependencies from the manifests: decrypts {@code <id>.manifest} into a temporary file
 * (checking its MDC and that it names {@code id}) and streams its files list, collecting the
 * distinct {@code backup} ids other than {@code id}. The passphrase is asked for on first use
 * only, so a repository without manifests needs none. Results are cached.
 */
public final class ManifestDependencyReader implements DependencyReader {
    private final Repository repo;
    private final Supplier<Secret> passphrase;
    private final Path tempBase;
    private final Map<String, Set<String>> cache = new HashMap<>();
    private Secret secret;

    /**
     * @param repo       the repository
     * @param passphrase gives the passphrase when first needed
     * @param tempBase   directory for the decrypted manifests, or null for the system's
     */
    public ManifestDependencyReader(Repository repo, Supplier<Secret> passphrase, Path tempBase) {
        this.repo = Objects.requireNonNull(repo);
        this.passphrase = Objects.requireNonNull(passphrase);
        this.tempBase = tempBase;
    }

    @Override
    public synchronized Set<String> dependsOn(String id) {
        Set<String> known = cache.get(id);
        if (known != null) {
            return known;
        }
        if (secret == null) {
            secret = passphrase.get();
        }
        Path dir = null;
        try {
            dir = BackupReader.tempDir(tempBase);
            Path manifest = BackupReader.fetchManifest(repo, id, secret, dir);
            Set<String> deps = new TreeSet<>();
            try (Manifest.FileIterator files = Manifest.files(manifest)) {
                while (files.hasNext()) {
                    String b = files.next().backup();
                    if (b != null && !b.equals(id)) {
                        deps.add(b);
                    }
                }
                // Media copies held by older backups make chains exactly as files do.
                var media = files.media();
                while (media.hasNext()) {
                    String b = media.next().backup();
                    if (!b.equals(id)) {
                        deps.add(b);
                    }
                }
            }
            Set<String> result = Set.copyOf(deps);
            cache.put(id, result);
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of " + id + " in " + repo.location(), e);
        } finally {
            WorkDir.deleteTree(dir); // a leftover temp directory is harmless
        }
    }
}
