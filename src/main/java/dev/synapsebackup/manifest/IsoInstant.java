package dev.synapsebackup.manifest;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;

/**
 * {@link Instant#toString()} and {@link Instant#parse} for the manifest's mtimes, without the
 * general {@code DateTimeFormatter} machinery: a manifest holds one per file, and an incremental
 * backup reads its parent's manifest twice, so these run hundreds of thousands of times per run.
 * Output is identical to {@link Instant#toString()}; anything the fast path does not recognise
 * (years outside 0000–9999, offsets other than {@code Z}) goes to {@link Instant#parse}.
 */
final class IsoInstant {
    private IsoInstant() {
    }

    /** As {@link Instant#toString()}. */
    static String format(Instant t) {
        long seconds = t.getEpochSecond();
        long day = Math.floorDiv(seconds, 86_400);
        int secOfDay = Math.floorMod(seconds, 86_400);
        LocalDate date;
        try {
            date = LocalDate.ofEpochDay(day);
        } catch (DateTimeException e) {
            return t.toString();
        }
        if (date.getYear() < 0 || date.getYear() > 9999) {
            return t.toString();
        }
        StringBuilder b = new StringBuilder(30);
        pad(b, date.getYear(), 4).append('-');
        pad(b, date.getMonthValue(), 2).append('-');
        pad(b, date.getDayOfMonth(), 2).append('T');
        pad(b, secOfDay / 3600, 2).append(':');
        pad(b, secOfDay / 60 % 60, 2).append(':');
        pad(b, secOfDay % 60, 2);
        int nano = t.getNano();
        if (nano != 0) {
            b.append('.');
            if (nano % 1_000_000 == 0) {
                pad(b, nano / 1_000_000, 3);
            } else if (nano % 1000 == 0) {
                pad(b, nano / 1000, 6);
            } else {
                pad(b, nano, 9);
            }
        }
        return b.append('Z').toString();
    }

    /** As {@link Instant#parse}. */
    static Instant parse(String s) {
        int n = s.length();
        if (n < 20 || n > 30 || s.charAt(4) != '-' || s.charAt(7) != '-' || s.charAt(10) != 'T' || s.charAt(13) != ':'
                || s.charAt(16) != ':' || s.charAt(n - 1) != 'Z') {
            return Instant.parse(s);
        }
        int year = digits(s, 0, 4);
        int month = digits(s, 5, 2);
        int dayOfMonth = digits(s, 8, 2);
        int hour = digits(s, 11, 2);
        int minute = digits(s, 14, 2);
        int second = digits(s, 17, 2);
        int nano = 0;
        if (n > 20) {
            int fraction = n - 21; // between '.' and 'Z'
            if (s.charAt(19) != '.' || fraction < 1 || fraction > 9) {
                return Instant.parse(s);
            }
            nano = digits(s, 20, fraction);
            for (int i = fraction; i < 9; i++) {
                nano *= 10;
            }
        }
        if (year < 0 || month < 0 || dayOfMonth < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59
                || second < 0 || second > 59 || nano < 0) {
            return Instant.parse(s); // malformed, or a leap second: let the JDK decide
        }
        long day = LocalDate.of(year, month, dayOfMonth).toEpochDay();
        return Instant.ofEpochSecond(day * 86_400 + hour * 3600L + minute * 60L + second, nano);
    }

    /** The decimal number in {@code s[from, from + count)}, or -1 if it is not all digits. */
    private static int digits(String s, int from, int count) {
        int v = 0;
        for (int i = from; i < from + count; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    private static StringBuilder pad(StringBuilder b, int value, int width) {
        String v = Integer.toString(value);
        for (int i = v.length(); i < width; i++) {
            b.append('0');
        }
        return b.append(v);
    }
}
