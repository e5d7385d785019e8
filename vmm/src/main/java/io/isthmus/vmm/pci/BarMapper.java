package io.isthmus.vmm.pci;

/**
 * What a BAR is in guest-physical space while the guest has it decoding: an emulated BAR is a device on the bus's
 * memory space (the bus makes its mapper itself, see {@link PciBar#memory32}); a passthrough BAR's mapper makes the
 * device's mmap-able regions KVM memory slots at the address and traps the rest (the MSI-X table and PBA) as
 * devices on {@link PciSlot#memorySpace()}.
 *
 * <p>The bus calls {@link #map} when the BAR starts decoding at an address (the guest wrote the BAR or set the
 * command register's decode bit), {@link #unmap} before it moves or stops decoding, always in that alternation and
 * never for two BARs at once: under the bus's mapping lock, on the vCPU thread whose configuration write caused
 * it or on the machine's main thread for a reset. A mapper must not access configuration space.
 */
public interface BarMapper {
    /** The BAR now decodes at guest-physical {@code [address, address + size)}, wholly inside a bus window. */
    void map(long address);

    /** The BAR no longer decodes where {@link #map} put it. */
    void unmap();
}
