package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;

/**
 * The PCI Express Enhanced Configuration Access Mechanism of a host bridge: configuration space as memory, 4 KiB per
 * function, 1 MiB per bus ({@code offset = bus << 20 | devfn << 12 | register}), decoded as QEMU's
 * {@code pcie_mmcfg_data_read/write}: a function that is not there (or on a bus other than 0: there are no bridges)
 * reads all ones and ignores writes, as does a register past the function's configuration space (256 bytes for a
 * conventional function). Any alignment works, as QEMU's memory core hands the access to its
 * {@code pci_host_config_read_common} whole: the bytes from the register on, cut at the end of the function's space
 * (the cut bytes read 0). An 8-byte access is two 4-byte ones.
 *
 * <p>Thread-safe (each function's configuration space synchronizes itself); allocation-free.
 */
final class Ecam implements BusDevice {
    private final PciBus bus;

    Ecam(PciBus bus) {
        this.bus = bus;
    }

    @Override
    public long read(long offset, int size) {
        if (size == 8) {
            return read(offset, 4) & 0xffffffffL | read(offset + 4, 4) << 32;
        }
        PciConfigSpace c = space(offset);
        int reg = (int) offset & 0xfff;
        if (c == null || reg >= c.size()) {
            return size == 4 ? 0xffffffffL : (1L << (8 * size)) - 1;
        }
        return c.read(reg, Math.min(size, c.size() - reg)) & 0xffffffffL;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size == 8) {
            write(offset, 4, value & 0xffffffffL);
            write(offset + 4, 4, value >>> 32);
            return;
        }
        PciConfigSpace c = space(offset);
        int reg = (int) offset & 0xfff;
        if (c != null && reg < c.size()) {
            c.write(reg, Math.min(size, c.size() - reg), (int) value);
        }
    }

    /** The configuration space the guest reaches at {@code offset}, or null. */
    private PciConfigSpace space(long offset) {
        if (offset >>> 20 != 0) {
            return null;
        }
        PciFunction f = bus.visible((int) (offset >>> 12) & 0xff);
        return f == null ? null : f.config();
    }
}
