package dev.synapsebackup.retention;

import dev.synapsebackup.ConfigException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which backups {@code prune} keeps, with the meaning of restic's {@code forget --keep-*} flags.
 * A count of {@link #UNLIMITED} keeps every period; 0 switches the rule off.
 *
 * @param last    keep the {@code last} newest backups
 * @param hourly  keep the newest backup of each of the last {@code hourly} hours that have one
 * @param daily   same for days
 * @param weekly  same for ISO weeks (Monday to Sunday)
 * @param monthly same for months
 * @param yearly  same for years
 * @param within  keep every backup newer than the newest backup minus this ({@link Within#NONE}: off)
 */
public record KeepPolicy(int last, int hourly, int daily, int weekly, int monthly, int yearly, Within within) {
    /** A count meaning "every period" (restic's {@code unlimited}). */
    public static final int UNLIMITED = -1;

    public KeepPolicy {
        check("--keep-last", last);
        check("--keep-hourly", hourly);
        check("--keep-daily", daily);
        check("--keep-weekly", weekly);
        check("--keep-monthly", monthly);
        check("--keep-yearly", yearly);
        within = within == null ? Within.NONE : within;
    }

    private static void check(String flag, int n) {
        if (n < UNLIMITED) {
            throw new ConfigException(flag + " must be a number >= 0 or \"unlimited\", not " + n);
        }
    }

    /** Whether no rule is set: such a policy would remove everything and is refused. */
    public boolean isEmpty() {
        return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 && within.isZero();
    }

    /** Refuses an empty policy, naming the flags (restic refuses one too). */
    public void requireNotEmpty() {
        if (isEmpty()) {
            throw new ConfigException("no keep rule given: prune would remove every backup; set at least one of"
                    + " --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within");
        }
    }

    /** A policy with only {@code --keep-last n}. */
    public static KeepPolicy keepLast(int n) {
        return new KeepPolicy(n, 0, 0, 0, 0, 0, Within.NONE);
    }

    /**
     * A {@code --keep-within} duration as restic writes it: years, months, days and hours
     * ({@code 1y5m7d2h}), subtracted from a time with calendar arithmetic.
     *
     * @param years  years
     * @param months months
     * @param days   days
     * @param hours  hours
     */
    public record Within(int years, int months, int days, int hours) {
        /** No {@code --keep-within} rule. */
        public static final Within NONE = new Within(0, 0, 0, 0);
        private static final Pattern PART = Pattern.compile("(\\d+)([ymdh])");

        public Within {
            if (years < 0 || months < 0 || days < 0 || hours < 0) {
                throw new ConfigException("--keep-within must not be negative");
            }
        }

        /** A duration of whole hours (anything shorter is dropped, as restic's unit is the hour). */
        public static Within of(Duration d) {
            long h = d.toHours();
            return new Within(0, 0, (int) (h / 24), (int) (h % 24));
        }

        /**
         * Parses restic's form: one or more of {@code <n>y}, {@code <n>m} (months), {@code <n>d},
         * {@code <n>h}, e.g. {@code 7d}, {@code 1y6m}, {@code 36h}.
         */
        public static Within parse(String text) {
            String s = text == null ? "" : text.strip();
            Matcher m = PART.matcher(s);
            int[] v = new int[4];
            int pos = 0;
            while (pos < s.length() && m.find(pos) && m.start() == pos) {
                int n;
                try {
                    n = Integer.parseInt(m.group(1));
                } catch (NumberFormatException e) {
                    throw new ConfigException("--keep-within: number too large in \"" + text + "\"");
                }
                v["ymdh".indexOf(m.group(2))] += n;
                pos = m.end();
            }
            if (s.isEmpty() || pos != s.length()) {
                throw new ConfigException("--keep-within: \"" + text + "\" is not a duration such as 7d, 36h or 1y6m2d"
                        + " (y years, m months, d days, h hours)");
            }
            return new Within(v[0], v[1], v[2], v[3]);
        }

        /** Whether this is {@link #NONE}. */
        public boolean isZero() {
            return years == 0 && months == 0 && days == 0 && hours == 0;
        }

        /**
         * {@code t} minus this duration in UTC, normalising like Go's {@code time.AddDate} (which
         * restic uses): 31 March minus one month is 3 March, not 28/29 February.
         */
        public Instant subtractFrom(Instant t) {
            LocalDateTime dt = LocalDateTime.ofInstant(t, ZoneOffset.UTC);
            long monthIndex = (long) (dt.getYear() - years) * 12 + (dt.getMonthValue() - 1 - months);
            LocalDate date = LocalDate.of((int) Math.floorDiv(monthIndex, 12L), (int) Math.floorMod(monthIndex, 12L) + 1, 1)
                    .plusDays(dt.getDayOfMonth() - 1L - days);
            return date.atTime(dt.toLocalTime()).toInstant(ZoneOffset.UTC).minus(Duration.ofHours(hours));
        }

        @Override
        public String toString() {
            if (isZero()) {
                return "0h";
            }
            StringBuilder sb = new StringBuilder();
            if (years > 0) {
                sb.append(years).append('y');
            }
            if (months > 0) {
                sb.append(months).append('m');
            }
            if (days > 0) {
                sb.append(days).append('d');
            }
            if (hours > 0) {
                sb.append(hours).append('h');
            }
            return sb.toString();
        }
    }
}
