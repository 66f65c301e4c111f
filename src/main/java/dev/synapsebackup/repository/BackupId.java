package dev.synapsebackup.repository;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Backup ids: {@code backup-} followed by the UTC creation time as {@code yyyyMMddHHmmssSSSSSS}
 * (microseconds), the charm's {@code backup-%Y%m%d%H%M%S%f}. Ids sort in time order as strings.
 */
public final class BackupId {
    /** Prefix of every id this tool makes. */
    public static final String PREFIX = "backup-";
    /** Key suffix of a backup's encrypted manifest. */
    public static final String MANIFEST_SUFFIX = ".manifest";
    /** Key prefix of repository locks (not backups). */
    public static final String LOCKS_PREFIX = "locks/";
    /** User-metadata name that marks a data object as ours. */
    public static final String FORMAT_METADATA = "synapse-backup-format";
    /** User-metadata name of a backup's kind ({@code full} or {@code incremental}). */
    public static final String KIND_METADATA = "synapse-backup-kind";
    /** Data object metadata: the number of S3 media stores whose objects the backup lists (FORMAT.md §10). */
    public static final String MEDIA_METADATA = "synapse-backup-s3-media";
    /** User-metadata name of an incremental backup's parent id. */
    public static final String PARENT_METADATA = "synapse-backup-parent";

    private static final DateTimeFormatter FORMAT = DateTimeFormatter.ofPattern("yyyyMMddHHmmssSSSSSS");
    private static final Pattern OURS = Pattern.compile("backup-\\d{20}");
    /** Ours or the charm's: the charm's {@code %Y%m%d%H%M%S%f} digits, with or without {@code backup-}. */
    private static final Pattern BACKUP_NAME = Pattern.compile("(backup-)?\\d{20}");

    private BackupId() {
    }

    /** The id for a backup created at {@code time} (truncated to microseconds). */
    public static String forTime(Instant time) {
        return PREFIX + FORMAT.format(LocalDateTime.ofInstant(time.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC));
    }

    /** The creation time encoded in an id of our form, if it is one. */
    public static Optional<Instant> timeOf(String id) {
        if (!OURS.matcher(id).matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(LocalDateTime.parse(id.substring(PREFIX.length()), FORMAT).toInstant(ZoneOffset.UTC));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    /** The key of a backup's manifest. */
    public static String manifestKey(String id) {
        return id + MANIFEST_SUFFIX;
    }

    /** Whether a key is repository metadata (manifest, lock) rather than a backup's data object. */
    public static boolean isReserved(String key) {
        return key.endsWith(MANIFEST_SUFFIX) || key.startsWith(LOCKS_PREFIX) || key.isEmpty() || key.endsWith("/");
    }

    /**
     * Whether a key (relative to the prefix) names a backup's data object: a top-level name that
     * is a backup id, ours ({@code backup-} + 20 digits) or the charm's (the same digits, with or
     * without {@code backup-}). Every other key under the prefix is not a backup (SPEC §3): it is
     * never listed as one and never deleted.
     */
    public static boolean isBackupName(String key) {
        return key != null && BACKUP_NAME.matcher(key).matches();
    }

    /**
     * Checks that a user-supplied id can name an object: not empty, not reserved, no path tricks.
     * Unknown but well-formed ids are fine (the charm's backups keep their names).
     */
    public static boolean isPlausible(String id) {
        return id != null && !id.isBlank() && !isReserved(id) && !id.startsWith("/") && !id.contains("..")
                && id.chars().noneMatch(c -> c < 0x20);
    }
}
