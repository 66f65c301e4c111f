package dev.synapsebackup.config;

import dev.synapsebackup.ConfigException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Objects;

/**
 * S3 Object Lock for the objects of a backup (config {@code s3: {object-lock: {mode, retain}}}):
 * every data object and manifest is written with this retention mode and a retain-until date of
 * the upload's start plus {@link #retain()}. The lock objects under {@code locks/} are not retained.
 *
 * @param mode   how strict the retention is
 * @param retain how long after its upload starts an object stays retained; positive
 */
public record ObjectLock(Mode mode, Duration retain) {
    /** The retention modes of S3 Object Lock. */
    public enum Mode {
        /** Users with {@code s3:BypassGovernanceRetention} can still shorten or remove the retention. */
        GOVERNANCE,
        /** Nobody, not even the account's root user, can shorten it or delete the object before it ends. */
        COMPLIANCE;

        /** {@code governance} or {@code compliance}, as the config spells it. */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The mode named {@code text} (any case); the key is named on error. */
        public static Mode parse(String text, String key) {
            String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
            for (Mode m : values()) {
                if (m.word().equals(t)) {
                    return m;
                }
            }
            throw new ConfigException("\"" + key + "\" must be \"governance\" or \"compliance\", not \"" + text + "\"");
        }
    }

    public ObjectLock {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(retain, "retain");
        if (retain.isZero() || retain.isNegative()) {
            throw new ConfigException("\"s3.object-lock.retain\" must be longer than 0");
        }
    }

    /**
     * The retain-until date of an object whose upload starts at {@code start}: {@code start +
     * retain}, rounded up to a whole second. Some stores refuse dates finer than milliseconds
     * (the JDK's clock has nanoseconds), and rounding up never shortens the retention.
     */
    public Instant retainUntil(Instant start) {
        Instant t = start.plus(retain);
        Instant seconds = t.truncatedTo(ChronoUnit.SECONDS);
        return seconds.equals(t) ? t : seconds.plusSeconds(1);
    }

    @Override
    public String toString() {
        return mode.word() + " for " + format(retain);
    }

    /** {@code 30d}, {@code 12h}, {@code 90m} or {@code 45s}: the largest unit that divides it. */
    public static String format(Duration d) {
        long s = d.getSeconds();
        if (s % 86_400 == 0) {
            return s / 86_400 + "d";
        }
        if (s % 3600 == 0) {
            return s / 3600 + "h";
        }
        return s % 60 == 0 ? s / 60 + "m" : s + "s";
    }
}
