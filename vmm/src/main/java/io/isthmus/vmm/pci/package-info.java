/**
 * PCI for the microvm machine: the PCI Express host bridge of {@code -M microvm,pcie=on} ({@link
 * io.isthmus.vmm.pci.PcieHost}: ECAM at 0xe0000000, a 32-bit MMIO window at 0xc0000000 and a 64-bit one in the top
 * quarter of the guest-physical space, INTx on GSIs 16-19, as QEMU's GPEX and with QEMU's DSDT), its bus 0
 * ({@link io.isthmus.vmm.pci.PciBus}), and what emulated and passthrough functions are made of.
 *
 * <p>Why ECAM and not the legacy 0xcf8/0xcfc ports: microvm has no port 0xcf8 under QEMU either; ECAM is what
 * QEMU's microvm offers, reaches the 4 KiB configuration space of PCI Express functions (a passthrough GPU's
 * extended capabilities), takes one MMIO exit per access instead of two port exits, and needs no address latch
 * shared between vCPUs.
 *
 * <p>A function ({@link io.isthmus.vmm.pci.PciFunction}) is its {@link io.isthmus.vmm.pci.PciConfigSpace} (QEMU's
 * write masks, BAR sizing, the capability list, MSI and MSI-X, INTx), its BARs ({@link io.isthmus.vmm.pci.PciBar}:
 * an emulated device, or a {@link io.isthmus.vmm.pci.BarMapper} that maps a passthrough device's region as KVM
 * memory slots), and what it takes when plugged ({@link io.isthmus.vmm.pci.PciSlot}). The guest places the BARs,
 * as on QEMU's microvm, whose firmware does not enumerate PCI; the bus moves each BAR's range when the guest
 * reprograms it. MSI and MSI-X vectors are KVM GSI routes raised through irqfds ({@link
 * io.isthmus.vmm.pci.MsiRouter}, {@link io.isthmus.vmm.pci.MsiVector}): an eventfd signal reaches the guest with no
 * Java on the path. {@link io.isthmus.vmm.pci.IsthmusTestDevice} is an emulated function for tests; host devices
 * passed through with VFIO are {@link io.isthmus.vmm.passthrough.VfioPciFunction}s.
 */
package io.isthmus.vmm.pci;
