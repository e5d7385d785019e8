package io.isthmus.vmm.passthrough;

import io.isthmus.vmm.pci.Pci;
import io.isthmus.vmm.pci.PciBar;

import java.util.ArrayList;
import java.util.List;

/**
 * What a host PCI function shows its guest, read from its own configuration space and VFIO's region sizes before
 * the function is plugged: ids, class, configuration space size, memory BARs (number, size, width, prefetch) and
 * the message-signalled interrupt capability the guest gets (MSI-X when the device has it, else MSI, else none).
 *
 * <p>Only type 0 headers (endpoints) are accepted: a bridge would need its windows and secondary bus emulated.
 * I/O BARs are left out (this machine's host bridge has no I/O window, as QEMU's microvm). Immutable; thread-safe.
 *
 * @param configSize  256 (conventional PCI) or 4096 (PCI Express)
 * @param classCode   base class, subclass and programming interface, as 0xBBSSPP
 * @param bars        the memory BARs, lowest register first
 * @param msiVectors  MSI vectors offered to the guest (0: the guest gets no MSI capability)
 * @param msix        the MSI-X table and PBA placement, or null when the guest gets no MSI-X
 */
record HostFunctionLayout(int configSize, int vendorId, int deviceId, int revision, int classCode,
                          int subsystemVendorId, int subsystemId, List<Bar> bars, int msiVectors, Msix msix) {
    /** A memory BAR as the device declares it. */
    record Bar(int index, long size, PciBar.Kind kind, boolean prefetchable) {}

    /** The device's MSI-X capability: table size and where table and PBA live. */
    record Msix(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {}

    /**
     * Reads the layout from {@code config} (the device's configuration space through VFIO, at least 64 bytes),
     * {@code regionSizes} (VFIO's sizes of regions 0 to 5, the BARs) and the vector counts VFIO reports for MSI and
     * MSI-X.
     *
     * @throws IllegalArgumentException naming what the device has that cannot be passed through
     */
    static HostFunctionLayout of(byte[] config, int configRegionSize, long[] regionSizes, int msiCount,
                                 int msixCount) {
        if (config.length < Pci.HEADER_SIZE) {
            throw new IllegalArgumentException("its configuration space is " + config.length + " bytes, not a PCI"
                    + " header");
        }
        int header = u8(config, Pci.HEADER_TYPE) & 0x7f;
        if (header != 0) {
            throw new IllegalArgumentException(String.format("header type 0x%02x is not supported (only endpoints,"
                    + " header type 0, can be passed through)", header));
        }
        List<Bar> bars = new ArrayList<>();
        for (int i = 0; i < Pci.BARS; i++) {
            int reg = u32(config, Pci.BAR0 + 4 * i);
            long size = i < regionSizes.length ? regionSizes[i] : 0;
            boolean wide = (reg & Pci.BAR_IO) == 0 && (reg & 0x6) == Pci.BAR_MEM_TYPE_64;
            if (size != 0 && (reg & Pci.BAR_IO) == 0) {
                if (Long.bitCount(size) != 1) {
                    throw new IllegalArgumentException(String.format("BAR%d is 0x%x bytes, not a power of two", i,
                            size));
                }
                // The guest sees at least 4 KiB, as QEMU rounds small BARs up, so a BAR never shares a page.
                bars.add(new Bar(i, Math.max(size, 4096), wide ? PciBar.Kind.MEMORY64 : PciBar.Kind.MEMORY32,
                        (reg & Pci.BAR_MEM_PREFETCH) != 0));
            }
            if (wide) {
                i++;
            }
        }
        Msix msix = null;
        int msiVectors = 0;
        int msixAt = findCapability(config, Pci.CAP_ID_MSIX);
        if (msixAt > 0 && msixCount > 0 && msixAt + 12 <= config.length) {
            int table = u32(config, msixAt + 4), pba = u32(config, msixAt + 8);
            int vectors = (u16(config, msixAt + 2) & 0x7ff) + 1;
            msix = new Msix(Math.min(vectors, msixCount), table & 7, table & ~7L & 0xffffffffL, pba & 7,
                    pba & ~7L & 0xffffffffL);
        } else if (findCapability(config, Pci.CAP_ID_MSI) > 0 && msiCount > 0) {
            msiVectors = Integer.highestOneBit(Math.min(msiCount, 32));
        }
        return new HostFunctionLayout(configRegionSize >= Pci.EXPRESS_CONFIG_SIZE ? Pci.EXPRESS_CONFIG_SIZE
                : Pci.CONFIG_SIZE, u16(config, Pci.VENDOR_ID), u16(config, Pci.DEVICE_ID), u8(config, Pci.REVISION_ID),
                u32(config, Pci.CLASS_PROG - 1) >>> 8, u16(config, Pci.SUBSYSTEM_VENDOR_ID),
                u16(config, Pci.SUBSYSTEM_ID), List.copyOf(bars), msiVectors, msix);
    }

    /** The offset of the first capability with {@code id} in the list, or 0; a looping or wild list ends the walk. */
    static int findCapability(byte[] config, int id) {
        if ((u16(config, Pci.STATUS) & Pci.STATUS_CAP_LIST) == 0) {
            return 0;
        }
        int at = u8(config, Pci.CAPABILITY_LIST) & ~3;
        for (int hops = 0; hops < 48 && at >= Pci.HEADER_SIZE && at + 2 <= Math.min(config.length, Pci.CONFIG_SIZE);
             hops++) {
            if (u8(config, at) == id) {
                return at;
            }
            at = u8(config, at + 1) & ~3;
        }
        return 0;
    }

    private static int u8(byte[] b, int at) {
        return b[at] & 0xff;
    }

    private static int u16(byte[] b, int at) {
        return u8(b, at) | u8(b, at + 1) << 8;
    }

    private static int u32(byte[] b, int at) {
        return u16(b, at) | u16(b, at + 2) << 16;
    }
}
