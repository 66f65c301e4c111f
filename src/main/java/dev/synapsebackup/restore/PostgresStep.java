package dev.synapsebackup.restore;

import dev.synapsebackup.IntegrityException;
import dev.synapsebackup.config.PostgresAdmin;
import dev.synapsebackup.manifest.DatabaseRecord;
import dev.synapsebackup.repository.BackupId;
import dev.synapsebackup.synapse.DatabaseConfig;
import dev.synapsebackup.synapse.PgTools;
import dev.synapsebackup.synapse.PostgresRestore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The PostgreSQL dump of a backup once staged: loaded into the configured database as the last
 * step of a live restore, or joined into one file with the commands to load it for
 * {@code --target}.
 */
final class PostgresStep {
    private PostgresStep() {
    }

    /**
     * Checks the dump staged in {@code dbStage} and the database it goes into (refusing a
     * populated one before Synapse is stopped), adds the change line, and returns the step that
     * loads it, which adds its notes to {@code notes}.
     */
    static LiveSwap.DatabaseStep prepare(OpenedBackup backup, Path dbStage, DatabaseConfig.Postgres pg,
                                         PostgresAdmin admin, RestoreOptions options, List<String> changes,
                                         List<String> notes) throws IOException {
        DatabaseRecord.Postgres dump = (DatabaseRecord.Postgres) backup.summary().database();
        List<Path> chunks = chunks(dbStage, dump);
        PostgresRestore pgRestore = new PostgresRestore(PgTools.system(), backup.temp(), admin);
        PostgresRestore.Listing listing = pgRestore.listDump(chunks);
        if (listing.bytes() != dump.dumpBytes() || !listing.sha256().equalsIgnoreCase(String.valueOf(dump.dumpSha256()))) {
            throw new IntegrityException("the PostgreSQL dump of " + backup.id()
                    + " differs from its manifest (dump-bytes/dump-sha256); nothing was restored");
        }
        PostgresRestore.refuseLargeObjects(listing, pg.dbname() != null ? pg.dbname() : pg.user());
        PostgresRestore.Options pgOptions = new PostgresRestore.Options(options.dropExisting(),
                options.keepPrevious(), backup.id().substring(BackupId.PREFIX.length()));
        // Refuse a populated database before Synapse is stopped, not after.
        pgRestore.preflight(pg, pgOptions);
        changes.add("restore PostgreSQL database " + pg.dbname() + " from the dump (" + listing.entries()
                + " entries)" + (options.dropExisting() ? ", replacing its contents in one transaction" : ""));
        return () -> {
            PostgresRestore.Result r = pgRestore.restore(pg, chunks, pgOptions);
            if (r.created()) {
                notes.add("created PostgreSQL database " + r.dbname()
                        + ("admin".equals(r.createdBy()) ? " through the admin connection" : ""));
            }
            if (r.previous() != null && !r.previousDropped()) {
                notes.add("the database's previous contents are kept in schema " + r.previous()
                        + " of database " + r.dbname() + "; once satisfied, drop them with: sudo -u postgres psql -d "
                        + r.dbname() + " -c 'DROP SCHEMA " + r.previous() + " CASCADE'");
            }
        };
    }

    /** For --target: joins the dump's chunks into one file and says how to load it. */
    static List<String> joinForTarget(Path target, DatabaseRecord.Postgres recorded) throws IOException {
        List<Path> chunks = chunks(target, recorded);
        String first = chunks.get(0).getFileName().toString();
        Path dump = chunks.get(0).resolveSibling(first.substring(0, first.lastIndexOf('.')));
        try (OutputStream out = Files.newOutputStream(dump, StandardOpenOption.CREATE_NEW)) {
            for (Path c : chunks) {
                Files.copy(c, out);
            }
        }
        for (Path c : chunks) {
            Files.delete(c);
        }
        Files.setPosixFilePermissions(dump, PosixFilePermissions.fromString("rw-------"));
        List<String> notes = new ArrayList<>();
        notes.add("the PostgreSQL dump is " + dump + "; to load it into a new database:");
        DatabaseConfig.Postgres pg = new DatabaseConfig.Postgres(recorded.host(),
                recorded.port() == null ? 5432 : recorded.port(), recorded.user(), null, recorded.dbname(), Map.of());
        notes.addAll(PostgresRestore.stockCommands(pg, dump));
        return notes;
    }

    private static List<Path> chunks(Path dir, DatabaseRecord.Postgres dump) {
        List<Path> chunks = new ArrayList<>();
        for (String name : dump.dumpEntries()) {
            chunks.add(dir.resolve(name));
        }
        return chunks;
    }
}
