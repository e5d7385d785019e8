package io.isthmus.sched.engine;

import io.isthmus.sched.ConfigurationException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Parses and prints durations such as {@code 2ms}, {@code 500us}, {@code 1.5s}, {@code 250ns}, {@code 2m} and
 * {@code 1h}. Stateless.
 */
public final class TimeSpec {
    private static final long MINUTE = 60_000_000_000L, HOUR = 60 * MINUTE;
    private static final Pattern NUMBER = Pattern.compile("[-+]?[0-9]*\\.?[0-9]+(e[-+]?[0-9]+)?");

    private TimeSpec() {
    }

    /**
     * @return {@code text} in ns: a number (a decimal fraction allowed) and a unit, ns, us (or µs), ms, s, m or h
     * @throws ConfigurationException when it has no unit or no number, or is too long to count in ns
     */
    public static long parseNanos(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long unit;
        int suffix = 2;
        if (t.endsWith("ns")) {
            unit = 1;
        } else if (t.endsWith("us") || t.endsWith("µs")) {
            unit = 1_000;
        } else if (t.endsWith("ms")) {
            unit = 1_000_000;
        } else if (t.endsWith("s")) {
            unit = 1_000_000_000;
            suffix = 1;
        } else if (t.endsWith("m")) {
            unit = MINUTE;
            suffix = 1;
        } else if (t.endsWith("h")) {
            unit = HOUR;
            suffix = 1;
        } else {
            throw new ConfigurationException("duration '" + text + "' has no unit; write e.g. 2ms, 500us, 10s, 2m, 1h"
                    + " or 250ns");
        }
        String num = t.substring(0, t.length() - suffix);
        // A plain decimal only: Double.parseDouble would also take NaN, Infinity, hex and a d or f suffix.
        if (!NUMBER.matcher(num).matches()) {
            throw new ConfigurationException("duration '" + text + "' is not a number with a unit; write e.g. 2ms,"
                    + " 500us, 10s, 2m, 1h or 250ns");
        }
        double nanos = Double.parseDouble(num) * unit;
        if (!(Math.abs(nanos) < 0x1p62)) {
            throw new ConfigurationException("duration '" + text + "' is too long; at most about 146 years");
        }
        return Math.round(nanos);
    }

    /** @return {@code nanos} in the largest unit that keeps it readable, e.g. {@code 2.08ms} */
    public static String format(long nanos) {
        if (nanos >= HOUR) {
            return String.format(Locale.ROOT, "%.3gh", (double) nanos / HOUR);
        } else if (nanos >= MINUTE) {
            return String.format(Locale.ROOT, "%.3gm", (double) nanos / MINUTE);
        } else if (nanos >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.3gs", nanos / 1e9);
        } else if (nanos >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.3gms", nanos / 1e6);
        } else if (nanos >= 1_000L) {
            return String.format(Locale.ROOT, "%.3gus", nanos / 1e3);
        }
        return nanos + "ns";
    }
}
