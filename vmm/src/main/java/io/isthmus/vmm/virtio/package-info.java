/**
 * Virtio devices and their virtio-mmio transport (virtio 1.2): {@link io.isthmus.vmm.virtio.VirtioMmioTransport}
 * (registers, negotiation, status, interrupts), {@link io.isthmus.vmm.virtio.Virtqueue} and
 * {@link io.isthmus.vmm.virtio.DescriptorChain} (split rings, indirect descriptors, event index, every guest value
 * checked on every use), and the devices behind {@link io.isthmus.vmm.virtio.VirtioDevice}:
 * {@link io.isthmus.vmm.virtio.VirtioBlk} (a raw file) and {@link io.isthmus.vmm.virtio.VirtioRng}.
 *
 * <p>A driver's mistake marks the device DEVICE_NEEDS_RESET; it never throws out of the bus, never touches memory
 * outside guest RAM and never loops without bound.
 */
package io.isthmus.vmm.virtio;
