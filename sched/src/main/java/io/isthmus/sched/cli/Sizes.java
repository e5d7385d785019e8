package io.isthmus.sched.cli;

import io.isthmus.sched.ConfigurationException;
import java.util.Locale;

/** Parses byte sizes such as {@code 64M}, {@code 1G}, {@code 4096} (K, M, G, T are powers of 1024). Stateless. */
final class Sizes {
    private Sizes() {
    }

    static long parse(String option, String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB") || t.endsWith("B")) {
            t = t.substring(0, t.length() - (t.endsWith("IB") ? 2 : 1));
        }
        long unit = 1;
        if (!t.isEmpty() && "KMGT".indexOf(t.charAt(t.length() - 1)) >= 0) {
            unit = 1L << (10 * ("KMGT".indexOf(t.charAt(t.length() - 1)) + 1));
            t = t.substring(0, t.length() - 1);
        }
        try {
            long v = Math.multiplyExact(Long.parseLong(t), unit);
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException | ArithmeticException e) {
            // the message below
        }
        throw new ConfigurationException(option + " '" + text + "' is not a size; write e.g. 64M, 1G or 4096");
    }
}
