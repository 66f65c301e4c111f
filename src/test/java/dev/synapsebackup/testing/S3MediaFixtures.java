package dev.synapsebackup.testing;

import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.MediaObject;
import dev.synapsebackup.repository.Repository;
import dev.synapsebackup.synapse.SampleHomeserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** Homeservers whose media synapse-s3-storage-provider keeps in an S3Proxy bucket, and their backups' media records. */
public final class S3MediaFixtures {
    private S3MediaFixtures() {
    }

    /**
     * A sample homeserver in {@code dir} whose media provider is {@code bucket} (prefix
     * {@code synapse/}, {@code store_local: false}) at {@code endpoint}, after {@code otherProviders}
     * (YAML list entries, may be empty).
     */
    public static Path homeserver(Path dir, String endpoint, String bucket, String otherProviders) throws IOException {
        Path yaml = SampleHomeserver.generate(dir, SampleHomeserver.Options.defaults());
        Files.writeString(yaml, "\nmedia_storage_providers:\n"
                + otherProviders
                + "- module: s3_storage_provider.S3StorageProviderBackend\n"
                + "  store_local: false\n"
                + "  store_remote: true\n"
                + "  store_synchronous: true\n"
                + "  config:\n"
                + "    bucket: " + bucket + "\n"
                + "    endpoint_url: " + endpoint + "\n"
                + "    region_name: us-east-1\n"
                + "    access_key_id: " + S3ProxyServer.ACCESS_KEY + "\n"
                + "    secret_access_key: " + S3ProxyServer.SECRET_KEY + "\n"
                + "    prefix: synapse/\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        return yaml;
    }

    /** The media records of backup {@code id}'s manifest, in order (its manifest decrypted into {@code work}). */
    public static List<MediaObject> mediaRecords(Repository repo, String id, Opener opener, Path work) throws IOException {
        Path manifest = BackupReader.fetchManifest(repo, id, opener, Files.createTempDirectory(work, "manifest"));
        List<MediaObject> records = new ArrayList<>();
        try (Manifest.FileIterator it = Manifest.files(manifest)) {
            while (it.hasNext()) {
                it.next();
            }
            it.media().forEachRemaining(records::add);
        }
        return records;
    }
}
