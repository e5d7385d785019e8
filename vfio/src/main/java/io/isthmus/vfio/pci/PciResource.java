package io.isthmus.vfio.pci;

/**
 * One line of a sysfs {@code resource} file: a BAR (index 0..5), the expansion ROM (6) or a bridge window,
 * with the kernel's {@code IORESOURCE_*} flags. Immutable.
 */
public record PciResource(int index, long start, long end, long flags) {
    private static final long IORESOURCE_IO = 0x100, IORESOURCE_MEM = 0x200, IORESOURCE_PREFETCH = 0x2000,
            IORESOURCE_MEM_64 = 0x100000;

    /** Bytes, or 0 when the resource is unassigned. */
    public long size() {
        return start == 0 && end == 0 ? 0 : end - start + 1;
    }

    public boolean io() {
        return (flags & IORESOURCE_IO) != 0;
    }

    public boolean memory() {
        return (flags & IORESOURCE_MEM) != 0;
    }

    public boolean prefetchable() {
        return (flags & IORESOURCE_PREFETCH) != 0;
    }

    public boolean is64bit() {
        return (flags & IORESOURCE_MEM_64) != 0;
    }

    /** {@code BAR0}..{@code BAR5}, {@code ROM}, or {@code WIN7}… for bridge windows. */
    public String name() {
        return index < 6 ? "BAR" + index : index == 6 ? "ROM" : "WIN" + index;
    }

    /** lspci-like: {@code Memory at 4000100000 (64-bit, non-prefetchable) [size=512K]}. */
    public String describe() {
        if (io()) {
            return String.format("I/O ports at %x [size=%s]", start, human(size()));
        }
        return String.format("Memory at %x (%s, %s) [size=%s]", start, is64bit() ? "64-bit" : "32-bit",
                prefetchable() ? "prefetchable" : "non-prefetchable", human(size()));
    }

    /** lspci's size form: {@code 512K}, {@code 16M}, {@code 32}. */
    public static String human(long size) {
        String[] units = {"", "K", "M", "G", "T"};
        int u = 0;
        while (size >= 1024 && size % 1024 == 0 && u < units.length - 1) {
            size /= 1024;
            u++;
        }
        return size + units[u];
    }
}
