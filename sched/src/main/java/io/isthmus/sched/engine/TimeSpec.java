package io.isthmus.sched.engine;

import io.isthmus.sched.ConfigurationException;
import java.util.Locale;

/** Parses and prints durations such as {@code 2ms}, {@code 500us}, {@code 1.5s}, {@code 250ns}. Stateless. */
public final class TimeSpec {
    private TimeSpec() {
    }

    /**
     * @return {@code text} in ns
     * @throws ConfigurationException when it has no unit or no number
     */
    public static long parseNanos(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long unit;
        String num;
        if (t.endsWith("ns")) {
            unit = 1;
            num = t.substring(0, t.length() - 2);
        } else if (t.endsWith("us") || t.endsWith("µs")) {
            unit = 1_000;
            num = t.substring(0, t.length() - 2);
        } else if (t.endsWith("ms")) {
            unit = 1_000_000;
            num = t.substring(0, t.length() - 2);
        } else if (t.endsWith("s")) {
            unit = 1_000_000_000;
            num = t.substring(0, t.length() - 1);
        } else {
            throw new ConfigurationException("duration '" + text + "' has no unit; write e.g. 2ms, 500us, 10s or 250ns");
        }
        try {
            return Math.round(Double.parseDouble(num) * unit);
        } catch (NumberFormatException e) {
            throw new ConfigurationException("duration '" + text + "' is not a number with a unit; write e.g. 2ms,"
                    + " 500us, 10s or 250ns");
        }
    }

    /** @return {@code nanos} in the largest unit that keeps it readable, e.g. {@code 2.08ms} */
    public static String format(long nanos) {
        if (nanos >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.3gs", nanos / 1e9);
        } else if (nanos >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.3gms", nanos / 1e6);
        } else if (nanos >= 1_000L) {
            return String.format(Locale.ROOT, "%.3gus", nanos / 1e3);
        }
        return nanos + "ns";
    }
}
