package dev.synapsebackup.restore;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.UnsafeEntryException;
import dev.synapsebackup.archive.FileRecord;
import dev.synapsebackup.archive.SafeExtractor;
import dev.synapsebackup.archive.TarReader;
import dev.synapsebackup.repository.Repository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Downloads, decrypts and extracts a backup into staging (or {@code --target}), checking
 * everything; live data is not touched. With {@code --dry-run} the files are only hashed.
 */
final class Staging {
    /**
     * What to stage.
     *
     * @param dumpCheck the check of the backup's PostgreSQL dump (used by --dry-run), or null
     */
    record Request(OpenedBackup backup, RestoreLayout layout, RestoreOptions options, DumpCheck dumpCheck) {
        Path dbStage() {
            return backup.temp().resolve("db");
        }
    }

    /**
     * What was staged.
     *
     * @param dbStage where a live restore's PostgreSQL dump chunks were staged
     */
    record Staged(long files, long bytes, long downloaded, List<String> notes, Path dbStage) {
    }

    private Staging() {
    }

    /** Stages the backup; if anything fails, removes what was staged and rethrows. */
    static Staged stage(Repository repo, Request req) throws IOException {
        OpenedBackup backup = req.backup();
        String id = backup.id();
        boolean dryRun = req.options().dryRun();
        ChainReader reader = new ChainReader(repo, req.options().opener(), req.options().progress());
        boolean ok = false;
        try {
            ChainReader.Handler handler = new Handler(req);
            ChainReader.Result r = backup.hasManifest()
                    ? reader.read(backup, handler)
                    : reader.readWhole(id, backup.data().size(), handler);
            if (r.problemCount() > 0) {
                throw new IntegrityException("backup " + id + " does not match its manifest (" + r.problemCount()
                        + " problem(s), first: " + r.problems().get(0) + "); nothing was restored");
            }
            if (dryRun && req.dumpCheck() != null) {
                List<String> dumpProblems = req.dumpCheck().finish();
                if (!dumpProblems.isEmpty()) {
                    throw new IntegrityException("backup " + id + ": " + dumpProblems.get(0));
                }
            }
            if (!dryRun) {
                req.layout().finishExtraction();
            }
            List<String> notes = new ArrayList<>();
            if (backup.hasManifest()) {
                for (String skipped : backup.skipped()) {
                    notes.add("/" + skipped + " was skipped when the backup was made (it changed or vanished): not restored");
                    if (!dryRun) {
                        req.layout().discardStaged(skipped);
                    }
                }
            } else {
                notes.add("backup " + id + " has no manifest (made by another tool): checked by its OpenPGP integrity"
                        + " code only");
            }
            ok = true;
            return new Staged(r.files(), r.bytes(), r.downloaded(), notes, req.dbStage());
        } finally {
            if (!ok) {
                req.layout().abandon();
            }
        }
    }

    /** Extracts accepted entries into the layout (or only hashes them, for --dry-run). */
    private static final class Handler implements ChainReader.Handler {
        private final RestoreLayout layout;
        private final boolean dryRun;
        private final DumpCheck dumpCheck;
        private final Path dbStage;
        /** Where the PostgreSQL dump is staged, made at its first chunk. */
        private SafeExtractor dbExtractor;

        Handler(Request req) {
            this.layout = req.layout();
            this.dryRun = req.options().dryRun();
            this.dumpCheck = req.dumpCheck();
            this.dbStage = req.dbStage();
        }

        @Override
        public void directory(TarReader.Entry e) throws IOException {
            if (layout.accept(e) && !dryRun) {
                layout.extractorFor(e).extract(e);
            }
        }

        @Override
        public void inheritedDirectory(TarReader.Entry e) throws IOException {
            if (layout.accept(e) && !dryRun) {
                layout.extractorFor(e).extractDirectoryIfAbsent(e);
            }
        }

        @Override
        public ChainReader.Read file(TarReader.Entry e) throws IOException {
            if (!layout.accept(e)) {
                throw new UnsafeEntryException(e.rawName(), "not a file this restore writes");
            }
            layout.count(e.name());
            if (dryRun) {
                return ChainReader.Read.drain(e.content());
            }
            FileRecord rec = layout.extractorFor(e).extract(e);
            return new ChainReader.Read(rec.size(), rec.sha256());
        }

        @Override
        public void reserved(TarReader.Entry e) throws IOException {
            if (layout.target != null && !dryRun) {
                layout.extractorFor(e).extract(e); // --target gets the whole archive, as tar -x would
            } else {
                e.content().transferTo(OutputStream.nullOutputStream());
            }
        }

        @Override
        public ChainReader.Read reservedFile(TarReader.Entry e) throws IOException {
            if (dryRun) {
                return ChainReader.Read.drain(dumpCheck != null && dumpCheck.isChunk(e.name())
                        ? dumpCheck.tee(e.content()) : e.content());
            }
            SafeExtractor x;
            if (layout.target != null) {
                x = layout.extractorFor(e);
            } else {
                // The dump is staged privately, never beside live data: pg_restore reads it from there.
                if (dbExtractor == null) {
                    dbExtractor = new SafeExtractor(dbStage);
                }
                x = dbExtractor;
            }
            FileRecord rec = x.extract(e);
            return new ChainReader.Read(rec.size(), rec.sha256());
        }

        @Override
        public void other(TarReader.Entry e) throws IOException {
            throw new UnsafeEntryException(e.rawName(), "only regular files and directories are restored ("
                    + e.type().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ")");
        }
    }
}
