/**
 * {@code -device vfio-pci}: host PCI functions passed through to the guest with VFIO (issue 12).
 *
 * <p>{@link io.isthmus.vmm.passthrough.VfioPassthrough} checks each device in sysfs, opens it through one VFIO
 * container ({@link io.isthmus.vfio.VfioContainer}) and maps all guest RAM there at IOVA = guest-physical address
 * before the guest starts; {@link io.isthmus.vmm.passthrough.VfioPciFunction} is the device on the guest's PCI bus
 * ({@link io.isthmus.vmm.pci.PciFunction}): its configuration space backed by the device's with the BARs, ROM,
 * interrupt pin and capability list emulated, its MSI or MSI-X vectors' eventfds given to VFIO so interrupts reach
 * the guest through irqfds, and its BARs' mmap-able parts mapped as KVM memory slots where the guest places them.
 * Each BAR counts the guest's accesses that still trap, one VM exit each (MSI-X table/PBA apart from the rest):
 * {@link io.isthmus.vmm.passthrough.VfioPciFunction#trapReport()}, printed at the end under {@code -d guest_errors}.
 */
package io.isthmus.vmm.passthrough;
