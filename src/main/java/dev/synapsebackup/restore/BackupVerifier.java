package dev.synapsebackup.restore;

import dev.synapsebackup.Progress;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.config.Secret;
import dev.synapsebackup.io.LookAheadIterator;
import dev.synapsebackup.io.WorkDir;
import dev.synapsebackup.manifest.BackupReader;
import dev.synapsebackup.manifest.Manifest;
import dev.synapsebackup.manifest.ManifestFile;
import dev.synapsebackup.manifest.ManifestSummary;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.repository.ObjectInfo;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
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
        long start = System.nanoTime();
        ObjectInfo data = BackupReader.dataObject(repo, id);
        boolean hasManifest = BackupReader.hasManifest(repo, id);
        if (!hasManifest && data.metadata().containsKey(BackupId.FORMAT_METADATA)) {
            throw BackupReader.unfinished(id);
        }
        Path temp = BackupReader.tempDir(tempBase);
        try {
            List<String> problems = new ArrayList<>();
            long[] otherProblems = {0};
            Path manifestFile = hasManifest ? BackupReader.fetchManifest(repo, id, passphrase, temp) : null;
            ManifestSummary summary = hasManifest ? Manifest.readSummary(manifestFile) : null;
            DumpCheck dump = summary == null ? null : DumpCheck.of(summary);
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
            ChainReader reader = new ChainReader(repo, passphrase, progress);
            ChainReader.Result r;
            String mode;
            if (hasManifest) {
                r = reader.read(id, manifestFile, summary, hashOnly);
                mode = "manifest";
                if (dump != null) {
                    List<String> dumpProblems = dump.finish();
                    otherProblems[0] += dumpProblems.size();
                    problems.addAll(dumpProblems);
                }
            } else {
                r = reader.readWhole(id, data.size(), hashOnly);
                mode = "whole";
            }
            problems.addAll(0, r.problems());
            return new VerifyResult(id, mode, r.files(), r.bytes(), r.downloaded(),
                    Duration.ofNanos(System.nanoTime() - start), List.copyOf(problems.subList(0, Math.min(20, problems.size()))),
                    r.problemCount() + otherProblems[0]);
        } finally {
            WorkDir.deleteTemporary(temp);
        }
    }

    /**
     * The manifest records whose bytes live in one data object: those naming it, and for the
     * backup's own object also records naming none (all of them, for a full backup).
     */
    static final class FilteredIterator extends LookAheadIterator<ManifestFile> {
        private final Iterator<ManifestFile> in;
        private final String object;
        private final boolean own;

        FilteredIterator(Iterator<ManifestFile> in, String object, String backupId) {
            this.in = in;
            this.object = object;
            this.own = object.equals(backupId);
        }

        @Override
        protected ManifestFile advance() {
            while (in.hasNext()) {
                ManifestFile f = in.next();
                if (f.backup() == null ? own : f.backup().equals(object)) {
                    return f;
                }
            }
            return null;
        }
    }
}
