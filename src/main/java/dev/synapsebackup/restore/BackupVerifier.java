package dev.synapsebackup.restore;

import dev.synapsebackup.Progress;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.crypto.Opener;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a whole backup back: decrypts every data object it needs (checking each MDC), reads
 * every tar entry, and checks each file's size and SHA-256 against the manifest. Writes nothing
 * but a temporary copy of the manifest.
 */
public final class BackupVerifier {
    private final Repository repo;

    public BackupVerifier(Repository repo) {
        this.repo = repo;
    }

    public VerifyResult verify(String id, Secret passphrase, Path tempBase, Progress progress) throws IOException {
        return verify(id, Opener.passphrase(passphrase), tempBase, progress, false);
    }

    /** As {@link #verify(String, Opener, Path, Progress, boolean)}, opened by the passphrase. */
    public VerifyResult verify(String id, Secret passphrase, Path tempBase, Progress progress, boolean allMedia)
            throws IOException {
        return verify(id, Opener.passphrase(passphrase), tempBase, progress, allMedia);
    }

    /**
     * Reads backup {@code id} back, opened by {@code opener} (the passphrase or a secret key); then
     * the copies of S3-held media: each present with its recorded size and ETag (a listing, nothing
     * downloaded), and the SHA-256 of a sample of those whose hash was recorded, or of all of them
     * with {@code allMedia}.
     */
    public VerifyResult verify(String id, Opener opener, Path tempBase, Progress progress, boolean allMedia)
            throws IOException {
        long start = System.nanoTime();
        try (OpenedBackup backup = OpenedBackup.open(repo, id, opener, tempBase)) {
            List<String> problems = new ArrayList<>();
            long[] otherProblems = {0};
            DumpCheck dump = backup.dumpCheck();
            ChainReader.Handler hashOnly = new ChainReader.Handler() {
                @Override
                public void directory(TarReader.Entry e) {
                    // nothing to check: directories carry no content
                }

                @Override
                public ChainReader.Read file(TarReader.Entry e) throws IOException {
                    return ChainReader.Read.drain(e.content());
                }

                @Override
                public void reserved(TarReader.Entry e) throws IOException {
                    e.content().transferTo(OutputStream.nullOutputStream());
                }

                @Override
                public ChainReader.Read reservedFile(TarReader.Entry e) throws IOException {
                    return ChainReader.Read.drain(dump != null && dump.isChunk(e.name())
                            ? dump.tee(e.content()) : e.content());
                }

                @Override
                public void other(TarReader.Entry e) {
                    otherProblems[0]++;
                    if (problems.size() < 20) {
                        problems.add(e.name() + ": a " + e.type() + " entry, which a restore refuses");
                    }
                }
            };
            ChainReader reader = new ChainReader(repo, opener, progress);
            ChainReader.Result r;
            String mode;
            if (backup.hasManifest()) {
                r = reader.read(backup, hashOnly);
                mode = "manifest";
                if (dump != null) {
                    List<String> dumpProblems = dump.finish();
                    otherProblems[0] += dumpProblems.size();
                    problems.addAll(dumpProblems);
                }
            } else {
                r = reader.readWhole(id, backup.data().size(), hashOnly);
                mode = "whole";
            }
            problems.addAll(0, r.problems());
            MediaCheck media = null;
            if (backup.hasManifest() && !backup.summary().media().isEmpty()) {
                media = new MediaCheck(repo, backup.manifestFile(), allMedia, opener, problems);
                otherProblems[0] += media.run();
            }
            return new VerifyResult(id, mode, r.files(), r.bytes(), r.downloaded(),
                    Duration.ofNanos(System.nanoTime() - start), List.copyOf(problems.subList(0, Math.min(20, problems.size()))),
                    r.problemCount() + otherProblems[0], media == null ? 0 : media.objects,
                    media == null ? 0 : media.bytes, media == null ? 0 : media.hashed);
        }
    }

}
