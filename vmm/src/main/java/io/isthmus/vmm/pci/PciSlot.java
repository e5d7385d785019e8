package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.memory.GuestMemory;

/**
 * What the bus gives a function it plugs in ({@link PciFunction#attach}): its address, the machine's MSI routing,
 * the guest's RAM (for DMA) and the bus's memory space, where a passthrough function's {@link BarMapper} traps the
 * parts of a BAR it does not map as memory slots (the MSI-X table and PBA).
 *
 * <p>Immutable; thread-safe.
 *
 * @param devfn       device and function number on bus 0 ({@link Pci#devfn})
 * @param msi         where MSI and MSI-X vectors come from
 * @param memory      guest RAM
 * @param memorySpace the bus's memory space: guest-physical addresses inside the bus's windows
 */
public record PciSlot(int devfn, MsiRouter msi, GuestMemory memory, MmioBus memorySpace) {
    /** "00:01.0". */
    public String address() {
        return Pci.address(devfn);
    }
}
