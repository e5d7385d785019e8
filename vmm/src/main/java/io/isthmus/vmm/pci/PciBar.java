package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;

/**
 * A base address register's region as a function declares it: its BAR number, size (a power of two), kind (32- or
 * 64-bit memory, or I/O), whether it is prefetchable, and what stands behind it: an emulated {@link BusDevice}
 * (reached at offsets from the BAR's base) or a {@link BarMapper} (a passthrough device's memory slots). Sizing,
 * placement and decoding are the configuration space's and the bus's business, not the function's.
 *
 * <p>Immutable; thread-safe.
 */
public final class PciBar {
    /** The BAR's address space and width. */
    public enum Kind {
        /** 32-bit memory: placed below 4 GiB, in the 32-bit window. */
        MEMORY32,
        /** 64-bit memory, two BAR registers: anywhere in either window (Linux puts large ones in the 64-bit one). */
        MEMORY64,
        /** I/O ports: declared and sized, never decoded (microvm's host bridge has no I/O window). */
        IO
    }

    private final int index;
    private final long size;
    private final Kind kind;
    private final boolean prefetchable;
    private final BusDevice device;
    private final BarMapper mapper;

    private PciBar(int index, long size, Kind kind, boolean prefetchable, BusDevice device, BarMapper mapper) {
        if (index < 0 || index >= Pci.BARS || kind == Kind.MEMORY64 && index == Pci.BARS - 1) {
            throw new IllegalArgumentException("BAR " + index + " (" + kind + "): BARs are 0 to 5, a 64-bit one takes"
                    + " two");
        }
        long min = kind == Kind.IO ? 4 : 16;
        long max = switch (kind) {
            case IO -> 256;
            case MEMORY32 -> 1L << 31;
            case MEMORY64 -> 1L << 62;
        };
        if (Long.bitCount(size) != 1 || size < min || size > max) {
            throw new IllegalArgumentException(String.format("BAR %d (%s) of 0x%x bytes: the size must be a power of"
                    + " two from 0x%x to 0x%x", index, kind, size, min, max));
        }
        if (kind == Kind.IO && prefetchable) {
            throw new IllegalArgumentException("BAR " + index + ": an I/O BAR cannot be prefetchable");
        }
        this.index = index;
        this.size = size;
        this.kind = kind;
        this.prefetchable = prefetchable;
        this.device = device;
        this.mapper = mapper;
    }

    /** A 32-bit non-prefetchable memory BAR emulated by {@code device}. */
    public static PciBar memory32(int index, long size, BusDevice device) {
        return new PciBar(index, size, Kind.MEMORY32, false, requireDevice(device), null);
    }

    /** A 64-bit memory BAR (BAR registers {@code index} and {@code index + 1}) emulated by {@code device}. */
    public static PciBar memory64(int index, long size, boolean prefetchable, BusDevice device) {
        return new PciBar(index, size, Kind.MEMORY64, prefetchable, requireDevice(device), null);
    }

    /** An I/O BAR emulated by {@code device} (never decoded on this machine, see {@link Kind#IO}). */
    public static PciBar io(int index, long size, BusDevice device) {
        return new PciBar(index, size, Kind.IO, false, requireDevice(device), null);
    }

    /** A memory BAR whose mapping {@code mapper} makes (a passthrough device's). */
    public static PciBar mapped(int index, long size, Kind kind, boolean prefetchable, BarMapper mapper) {
        if (mapper == null) {
            throw new IllegalArgumentException("BAR " + index + ": no mapper");
        }
        return new PciBar(index, size, kind, prefetchable, null, mapper);
    }

    private static BusDevice requireDevice(BusDevice d) {
        if (d == null) {
            throw new IllegalArgumentException("a BAR needs a device behind it");
        }
        return d;
    }

    /** The BAR register number (the low one of a 64-bit pair). */
    public int index() {
        return index;
    }

    /** The region's size in bytes. */
    public long size() {
        return size;
    }

    /** Memory (32- or 64-bit) or I/O. */
    public Kind kind() {
        return kind;
    }

    /** Whether the region is prefetchable (no side effects on reads). */
    public boolean prefetchable() {
        return prefetchable;
    }

    /** The emulated device behind the BAR, or null when a {@link #mapper()} maps it. */
    public BusDevice device() {
        return device;
    }

    /** The passthrough mapper, or null for an emulated BAR. */
    public BarMapper mapper() {
        return mapper;
    }

    /** The read-only low bits of the BAR register: space, type and prefetch bits. */
    int typeBits() {
        return switch (kind) {
            case IO -> Pci.BAR_IO;
            case MEMORY32 -> prefetchable ? Pci.BAR_MEM_PREFETCH : 0;
            case MEMORY64 -> Pci.BAR_MEM_TYPE_64 | (prefetchable ? Pci.BAR_MEM_PREFETCH : 0);
        };
    }

    @Override
    public String toString() {
        return String.format("BAR%d %s%s 0x%x bytes", index, kind, prefetchable ? " prefetchable" : "", size);
    }
}
