package io.isthmus.vmm.boot;

import java.util.ArrayList;
import java.util.List;

/**
 * The guest-physical layout of the microvm machine for a RAM size: where RAM lies (below 3 GiB, the rest above
 * 4 GiB, as QEMU's microvm splits it) and the E820 map its firmware reports, entry for entry.
 *
 * <p>The E820 entries are those QEMU's microvm firmware (qboot) returns from {@code int 0x15}, recorded from
 * {@code qemu-system-x86_64 -M microvm} 7.2 for RAM sizes from 2 MiB to 5 GiB: the low 639 KiB, the EBDA, a
 * type 4 block at 0xd0000, the BIOS at 0xf0000, the firmware's 16 KiB below 0xff000000, then RAM from 1 MiB.
 * Immutable; thread-safe.
 */
public record MemoryMap(long ramSize, long lowRam, long highRam, List<E820Entry> e820) {
    /** microvm puts at most 3 GiB of RAM below 4 GiB. */
    public static final long MAX_LOW_RAM = 0xc000_0000L;
    /** Where RAM above the low limit continues. */
    public static final long HIGH_RAM_BASE = 0x1_0000_0000L;

    /** E820 types. */
    public static final int E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3, E820_NVS = 4;

    /** One E820 entry. */
    public record E820Entry(long base, long length, int type) {}

    /** The layout for {@code ramSize} bytes of RAM. */
    public static MemoryMap forRam(long ramSize) {
        long low = Math.min(ramSize, MAX_LOW_RAM);
        long high = ramSize - low;
        List<E820Entry> e = new ArrayList<>();
        e.add(new E820Entry(0, 0x9fc00, E820_RAM));
        e.add(new E820Entry(0x9fc00, 0x400, E820_RESERVED));
        e.add(new E820Entry(0xd0000, 0x20000, E820_NVS));
        e.add(new E820Entry(0xf0000, 0x10000, E820_RESERVED));
        e.add(new E820Entry(0xfeffc000L, 0x4000, E820_RESERVED));
        if (low > 0x100000) {
            e.add(new E820Entry(0x100000, low - 0x100000, E820_RAM));
        }
        if (high > 0) {
            e.add(new E820Entry(HIGH_RAM_BASE, high, E820_RAM));
        }
        return new MemoryMap(ramSize, low, high, List.copyOf(e));
    }

    /** KiB of conventional memory the firmware reports ({@code int 0x12}). */
    public int memLowerKiB() {
        return 0x9fc00 / 1024;
    }

    /** KiB of RAM from 1 MiB to the first hole, as Multiboot's {@code mem_upper}. */
    public long memUpperKiB() {
        return Math.max(0, lowRam - 0x100000) / 1024;
    }
}
