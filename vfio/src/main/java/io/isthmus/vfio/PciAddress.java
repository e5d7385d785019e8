package io.isthmus.vfio;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI address in sysfs form, {@code DDDD:BB:DD.F} (domain, bus, device, function).
 *
 * <p>Immutable value; thread-safe.
 */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {
    private static final Pattern BDF = Pattern.compile(
            "(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-7])");

    public PciAddress {
        if (domain < 0 || domain > 0xffff || bus < 0 || bus > 0xff || device < 0 || device > 0x1f
                || function < 0 || function > 7) {
            throw new IllegalArgumentException(String.format(
                    "PCI address out of range: domain %x, bus %x, device %x, function %x"
                            + " (domain <= ffff, bus <= ff, device <= 1f, function <= 7)", domain, bus, device, function));
        }
    }

    /**
     * Parses {@code 0000:00:04.0} or the short form {@code 00:04.0} (domain 0).
     *
     * @throws IllegalArgumentException naming the text and the expected form
     */
    public static PciAddress parse(String text) {
        Matcher m = BDF.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a PCI address: '" + text
                    + "' (expected DDDD:BB:DD.F, e.g. 0000:00:04.0, or BB:DD.F)");
        }
        int domain = m.group(1) == null ? 0 : Integer.parseInt(m.group(1), 16);
        return new PciAddress(domain, Integer.parseInt(m.group(2), 16), Integer.parseInt(m.group(3), 16),
                Integer.parseInt(m.group(4)));
    }

    @Override
    public int compareTo(PciAddress o) {
        return Long.compare(key(), o.key());
    }

    private long key() {
        return ((long) domain << 16) | (bus << 8) | (device << 3) | function;
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%d", domain, bus, device, function);
    }
}
