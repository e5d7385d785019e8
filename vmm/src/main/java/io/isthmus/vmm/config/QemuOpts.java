package io.isthmus.vmm.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * QEMU's option-list syntax ({@code key=value,key=value}, {@code ,,} for a literal comma, an implied first
 * key, {@code flag} for {@code flag=on}), parsed exactly as QEMU's {@code util/qemu-option.c} does.
 *
 * <p>Hand-written on purpose: no CLI library speaks this grammar (single-dash long options, option-specific
 * implied keys, comma escaping inside values), and fidelity to QEMU's quirks is the point of the VMM's
 * command line. Stateless; thread-safe.
 */
public final class QemuOpts {
    private QemuOpts() {}

    /**
     * Splits {@code text} into an ordered map of keys to values.
     *
     * @param impliedKey the key a leading element without {@code =} belongs to (QEMU's {@code implied_opt_name}),
     *                   or {@code null} when the option has none
     */
    public static Map<String, String> parse(String text, String impliedKey) {
        Map<String, String> out = new LinkedHashMap<>();
        int i = 0;
        boolean first = true;
        int n = text.length();
        while (i < n) {
            // Like QEMU's get_opt_name_value: the name runs to the first '=' or ','.
            int eq = indexOfEither(text, i, '=', ',');
            if (first && impliedKey != null && (eq < 0 || text.charAt(eq) == ',')) {
                StringBuilder v = new StringBuilder();
                i = readValue(text, i, v);
                out.put(impliedKey, v.toString());
            } else if (eq < 0 || text.charAt(eq) == ',') {
                int end = eq < 0 ? n : eq;
                String name = text.substring(i, end);
                // A bare name is a boolean: "foo" means foo=on, and (deprecated) "nofoo" means foo=off.
                if (name.startsWith("no") && name.length() > 2) {
                    out.put(name.substring(2), "off");
                } else {
                    out.put(name, "on");
                }
                i = end;
            } else {
                String name = text.substring(i, eq);
                StringBuilder v = new StringBuilder();
                i = readValue(text, eq + 1, v);
                out.put(name, v.toString());
            }
            first = false;
            if (i < n && text.charAt(i) == ',') {
                i++;
            }
        }
        return out;
    }

    /**
     * Splits {@code text} at single commas, turning {@code ,,} into {@code ,}: QEMU's {@code get_opt_value}
     * loop, as used for {@code -initrd "mod1 arg,mod2"}.
     */
    public static java.util.List<String> splitValues(String text) {
        java.util.List<String> out = new java.util.ArrayList<>();
        int i = 0;
        do {
            StringBuilder v = new StringBuilder();
            i = readValue(text, i, v);
            out.add(v.toString());
            i++;
        } while (i <= text.length());
        return out;
    }

    /** Reads a value from {@code start} to the next unescaped comma; returns the index of that comma (or the end). */
    private static int readValue(String text, int start, StringBuilder v) {
        int i = start;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i);
            if (c == ',') {
                if (i + 1 < n && text.charAt(i + 1) == ',') {
                    v.append(',');
                    i += 2;
                    continue;
                }
                break;
            }
            v.append(c);
            i++;
        }
        return i;
    }

    private static int indexOfEither(String s, int from, char a, char b) {
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == a || c == b) {
                return i;
            }
        }
        return -1;
    }

    /**
     * QEMU's {@code qemu_strtosz} with a default unit: a non-negative number, optionally fractional, with an
     * optional suffix B, K, M, G, T, P or E (either case). Returns -1 when the text is not a size.
     */
    public static long parseSize(String text, long defaultUnit) {
        String s = text.trim();
        if (s.isEmpty()) {
            return -1;
        }
        int end = 0;
        while (end < s.length() && (Character.isDigit(s.charAt(end)) || s.charAt(end) == '.')) {
            end++;
        }
        if (end == 0) {
            return -1;
        }
        String num = s.substring(0, end);
        long unit = defaultUnit;
        if (end < s.length()) {
            if (end + 1 != s.length()) {
                return -1;
            }
            unit = switch (Character.toUpperCase(s.charAt(end))) {
                case 'B' -> 1L;
                case 'K' -> 1L << 10;
                case 'M' -> 1L << 20;
                case 'G' -> 1L << 30;
                case 'T' -> 1L << 40;
                case 'P' -> 1L << 50;
                case 'E' -> 1L << 60;
                default -> -1L;
            };
            if (unit < 0) {
                return -1;
            }
        }
        try {
            if (num.indexOf('.') >= 0) {
                // QEMU accepts a fraction only with a unit above bytes.
                double d = Double.parseDouble(num);
                double v = d * unit;
                return v >= 0x1p63 ? -1 : (long) v;
            }
            long v = Long.parseLong(num);
            return Math.multiplyHigh(v, unit) != 0 || v * unit < 0 ? -1 : v * unit;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** QEMU's {@code qemu_strtou64} with base 0 (decimal, 0x hex, 0 octal); -1 when not a number. */
    public static long parseUnsigned(String text) {
        try {
            String s = text;
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            if (s.length() > 1 && s.startsWith("0")) {
                return Long.parseUnsignedLong(s.substring(1), 8);
            }
            return Long.parseUnsignedLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** QEMU's boolean values: on/off, yes/no, true/false; {@code null} for anything else. */
    public static Boolean parseBool(String v) {
        return switch (v) {
            case "on", "yes", "true", "y" -> Boolean.TRUE;
            case "off", "no", "false", "n" -> Boolean.FALSE;
            default -> null;
        };
    }
}
