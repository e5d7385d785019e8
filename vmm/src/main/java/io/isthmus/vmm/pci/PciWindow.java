package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;

/**
 * One of a host bridge's MMIO windows on the machine's bus: guest-physical {@code [base, base + size)} seen 1:1 in
 * the PCI bus's memory space, where the BARs the guest placed there decode. An access no BAR takes goes to
 * {@code unassigned} (QEMU reads 0 from a hole in PCI memory space and reports it under {@code -d guest_errors}).
 * A BAR a passthrough function maps as a KVM memory slot never reaches here: KVM serves it without an exit.
 *
 * <p>Thread-safe: the memory space is lock-free for lookups; allocation-free.
 */
final class PciWindow implements BusDevice {
    private final long base;
    private final MmioBus memorySpace;
    private final BusDevice unassigned;

    PciWindow(long base, MmioBus memorySpace, BusDevice unassigned) {
        this.base = base;
        this.memorySpace = memorySpace;
        this.unassigned = unassigned;
    }

    @Override
    public long read(long offset, int size) {
        long address = base + offset;
        // Two lookups: a BAR moved away in between reads all ones from the memory space, which is harmless.
        return memorySpace.deviceAt(address) == null ? unassigned.read(offset, size) : memorySpace.read(address, size);
    }

    @Override
    public void write(long offset, int size, long value) {
        long address = base + offset;
        if (memorySpace.deviceAt(address) == null) {
            unassigned.write(offset, size, value);
        } else {
            memorySpace.write(address, size, value);
        }
    }
}
