package dev.synapsebackup.archive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.OpenPgp;
import dev.synapsebackup.testing.Procs;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole data path: tree → TarWriter → OpenPgp → file → (gpg | tar) and back through ours. */
class TarPipelineTest {
    private static final String PASS = "pipeline passphrase";

    @TempDir
    static Path tmp;
    static Procs.Gpg gpg;
    static Path src;
    static Path backup;
    static List<FileRecord> written;

    @BeforeAll
    static void makeBackup() throws IOException {
        gpg = new Procs.Gpg(tmp, PASS);
        src = Files.createDirectory(tmp.resolve("src"));
        TarTestTrees.build(src);
        backup = tmp.resolve("backup-20260101000000000000");
        try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(backup), 1 << 16);
                OutputStream enc = OpenPgp.encrypt(file, Secret.of(PASS));
                TarWriter tar = new TarWriter(enc)) {
            written = TarTestTrees.addTree(tar, src, "srv/");
        }
    }

    @AfterAll
    static void stopAgent() {
        gpg.close();
    }

    @Test
    void stockGpgPipedIntoGnuTarRestoresTheTree() throws IOException {
        Path dest = Files.createDirectory(tmp.resolve("dest-stock"));
        String script = "set -o pipefail; gpg --batch --no-tty --pinentry-mode loopback --passphrase-file \"$1\" "
                + "--decrypt \"$2\" | tar -xpf - -C \"$3\"";
        Procs.Result r = Procs.run(List.of("bash", "-c", script, "restore", gpg.passFile.toString(),
                backup.toString(), dest.toString()), (byte[]) null, gpg.env(), null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stderr()).doesNotContain("tar:");
        assertThat(TarTestTrees.describe(dest.resolve("srv"))).isEqualTo(TarTestTrees.describe(src));
    }

    @Test
    void ourDecryptReaderAndExtractorRestoreTheTreeWithMatchingHashes() throws IOException {
        Path dest = tmp.resolve("dest-ours");
        SafeExtractor x = new SafeExtractor(dest);
        List<FileRecord> restored = new java.util.ArrayList<>();
        try (InputStream in = OpenPgp.decrypt(Files.newInputStream(backup), Secret.of(PASS));
                TarReader r = new TarReader(in)) {
            for (TarReader.Entry e = r.next(); e != null; e = r.next()) {
                restored.add(x.extract(e));
            }
        }
        x.finish();
        assertThat(TarTestTrees.describe(dest.resolve("srv"))).isEqualTo(TarTestTrees.describe(src));
        Map<String, String> writtenHashes = written.stream()
                .filter(f -> !f.isDirectory())
                .collect(Collectors.toMap(FileRecord::path, FileRecord::sha256));
        Map<String, String> restoredHashes = restored.stream()
                .filter(f -> !f.isDirectory())
                .collect(Collectors.toMap(FileRecord::path, FileRecord::sha256));
        assertThat(restoredHashes).isEqualTo(writtenHashes).hasSize(8);
        assertThat(restored.stream().collect(Collectors.toMap(FileRecord::path, Function.identity())))
                .containsOnlyKeys(written.stream().map(FileRecord::path).toList());
    }

    @Test
    void tamperedBackupIsRejectedBeforeTheReaderReportsTheEnd() throws IOException {
        byte[] bad = Files.readAllBytes(backup);
        // inside the big random media file's content, so only the MDC can notice
        bad[bad.length / 2] ^= 0x20;
        Path dest = tmp.resolve("dest-tampered");
        SafeExtractor x = new SafeExtractor(dest);
        assertThatThrownBy(() -> {
            try (InputStream in = OpenPgp.decrypt(new ByteArrayInputStream(bad), Secret.of(PASS));
                    TarReader r = new TarReader(in)) {
                for (TarReader.Entry e = r.next(); e != null; e = r.next()) {
                    x.extract(e);
                }
            }
        }).isInstanceOf(IntegrityException.class).hasMessageContaining("integrity check failed");
    }

    @Test
    void wrongPassphraseStopsBeforeAnyEntry() {
        assertThatThrownBy(() -> OpenPgp.decrypt(Files.newInputStream(backup), Secret.of("nope")))
                .isInstanceOf(IntegrityException.class)
                .hasMessage("wrong passphrase or corrupted backup");
    }
}
