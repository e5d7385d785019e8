/**
 * Safe types over the VFIO ioctls: {@link io.isthmus.vfio.VfioContainer} (API version, extensions, type1/type1v2
 * IOMMU, IOMMU info with its capability chain, DMA map/unmap) &rarr; {@link io.isthmus.vfio.VfioGroup} (viability,
 * attachment) &rarr; {@link io.isthmus.vfio.VfioDevice} (regions with capabilities, BARs as {@code MemorySegment}s,
 * config space, IRQs through {@code VFIO_DEVICE_SET_IRQS}, reset). Each is made only by its parent and closed in
 * the reverse order (device, group, container); {@link io.isthmus.vfio.VfioException} names the failing step and
 * carries errno.
 *
 * <h2>Writing a user-space driver</h2>
 * The path a driver for a PCI device takes, each step with the type that does it:
 * <ol>
 *   <li><b>Find</b> the device in sysfs: {@link io.isthmus.vfio.pci.SysfsPci#withId} (vendor and device id) or
 *       {@link io.isthmus.vfio.pci.SysfsPci#withClass} (e.g. 0x01, 0x08, 0x02 for NVMe). It must be bound to
 *       vfio-pci ({@code isthmus vfio bind BDF}, as root; the devices of one IOMMU group are bound together).</li>
 *   <li><b>Open</b> it: {@link io.isthmus.vfio.VfioContainer#open()}, then
 *       {@link io.isthmus.vfio.VfioContainer#device(io.isthmus.vfio.pci.PciDevice)}, which opens and attaches its
 *       IOMMU group and returns the device (a second call returns the same open device). Turn on memory decoding
 *       and bus mastering with {@link io.isthmus.vfio.VfioDevice#setCommandBits} and the
 *       {@link io.isthmus.vfio.pci.PciConfig} bits; map the BARs with {@link io.isthmus.vfio.VfioDevice#mapRegion}
 *       and access registers with {@link io.isthmus.vfio.Mmio} (volatile, little-endian).</li>
 *   <li><b>Map</b> memory for DMA: a {@link io.isthmus.vfio.dma.DmaBuffer} (pinned pages; its page size is
 *       {@link io.isthmus.vfio.dma.DmaBuffer#pageSize()}), IOVAs from
 *       {@link io.isthmus.vfio.dma.IovaAllocator#forIommu(IommuInfo, int)} (inside the IOMMU's usable ranges and the
 *       device's DMA mask, never IOVA 0), then {@link io.isthmus.vfio.dma.DmaBuffer#mapTo} for the whole buffer
 *       or one page-aligned slice per queue.</li>
 *   <li><b>DMA</b>: read and write that memory through {@link io.isthmus.vfio.dma.DmaMemory}
 *       ({@code buffer.memory()}, {@code mapping.memory()}): little-endian accessors whose names state their
 *       ordering. Fill what the device reads with plain or release stores, then ring the doorbell with an
 *       {@link io.isthmus.vfio.Mmio} write; read what the device writes with acquire or volatile loads.</li>
 *   <li><b>Interrupts</b>: {@link io.isthmus.vfio.VfioDevice#enableIrq} routes INTx, MSI or MSI-X vectors to
 *       {@link io.isthmus.sys.EventFd}s.</li>
 *   <li><b>Close</b>: the container closes its groups and devices (BAR mappings go with the device) and the kernel
 *       drops every DMA mapping with it, so {@code try (DmaBuffer b = ...; VfioContainer c = ...)} is the natural
 *       order: the container closes first, then the buffer frees the memory the IOMMU no longer points at.</li>
 * </ol>
 * The complete example, for QEMU's edu device ({@code EduDriver} in vfio's test sources; the lab runs it against
 * a real edu behind an IOMMU and a test checks this copy and the README's against it):
 * {@snippet lang=java :
 * import io.isthmus.sys.EventFd;
 * import io.isthmus.vfio.IrqInfo;
 * import io.isthmus.vfio.Mmio;
 * import io.isthmus.vfio.PciAddress;
 * import io.isthmus.vfio.RegionInfo;
 * import io.isthmus.vfio.VfioContainer;
 * import io.isthmus.vfio.VfioDevice;
 * import io.isthmus.vfio.dma.DmaBuffer;
 * import io.isthmus.vfio.dma.DmaMemory;
 * import io.isthmus.vfio.dma.IovaAllocator;
 * import io.isthmus.vfio.pci.PciConfig;
 * import io.isthmus.vfio.pci.PciDevice;
 * import io.isthmus.vfio.pci.SysfsPci;
 * import java.lang.foreign.MemorySegment;
 *
 * // A user-space driver for QEMU's edu device (QEMU's docs/specs/edu.rst) against io.isthmus.vfio alone: find it,
 * // open it, map DMA memory, have the device copy it through its DMA engine, wait for its MSI, close.
 * // As root, with edu bound to vfio-pci (isthmus vfio bind BDF):
 * //   java --enable-native-access=ALL-UNNAMED -cp <isthmus jars> io.isthmus.vfio.example.EduDriver [BDF]
 * public final class EduDriver {
 *     static final int VENDOR = 0x1234, DEVICE = 0x11e8;
 *     // edu's registers in BAR0, and its DMA engine: 64-bit source, destination and count, then the command.
 *     static final int ID = 0x00, IRQ_STATUS = 0x24, IRQ_ACK = 0x64;
 *     static final int DMA_SRC = 0x80, DMA_DST = 0x88, DMA_COUNT = 0x90, DMA_CMD = 0x98;
 *     static final int DMA_RUN = 0x1, DMA_TO_RAM = 0x2, DMA_IRQ = 0x4;
 *     static final long EDU_BUFFER = 0x40000; // edu's own 4 KiB buffer, in the device's address space
 *     static final int DMA_BITS = 28;         // edu's DMA mask: IOVAs must stay below 2^28
 *     static final int LENGTH = 2048;
 *
 *     public static void main(String[] args) throws Exception {
 *         // 1. Find: edu by vendor and device id; the one named on the command line when there are several.
 *         PciDevice edu = SysfsPci.system().withId(VENDOR, DEVICE).stream()
 *                 .filter(d -> args.length == 0 || d.address().equals(PciAddress.parse(args[0])))
 *                 .findFirst().orElseThrow(() -> new IllegalStateException("no edu device (1234:11e8) found"));
 *
 *         // Closed in reverse order: the container first (device, group and every DMA mapping go with it), then
 *         // the eventfd, then the memory, which the IOMMU no longer points at.
 *         try (DmaBuffer buffer = DmaBuffer.anonymous(2 * DmaBuffer.pageSize());
 *                 EventFd msi = EventFd.create(0, "edu msi");
 *                 VfioContainer container = VfioContainer.open()) {
 *             // 2. Open: the device's IOMMU group and the device in one call; memory decoding for BAR0, bus
 *             //    mastering for DMA and MSI.
 *             VfioDevice device = container.device(edu);
 *             device.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
 *             MemorySegment bar0 = device.mapRegion(RegionInfo.BAR0);
 *             System.out.printf("edu %s: id 0x%08x%n", edu.address(), Mmio.read32(bar0, ID));
 *
 *             // 3. Map: both pages at an IOVA the IOMMU allows and edu can address (never 0).
 *             IovaAllocator iovas = IovaAllocator.forIommu(container.iommuInfo(), DMA_BITS);
 *             long iova = iovas.allocate(buffer.size(), 0);
 *             buffer.mapTo(container, iova);
 *
 *             // 4. Interrupt: edu's MSI signals the eventfd.
 *             device.enableIrq(IrqInfo.MSI, 0, msi);
 *
 *             // 5. DMA: page 0 -> edu's buffer -> page 1. Plain stores fill memory the device only reads; the
 *             //    doorbell, a volatile MMIO store, publishes them. What the device wrote is read with acquire loads.
 *             DmaMemory memory = buffer.memory();
 *             long page = DmaBuffer.pageSize();
 *             for (int i = 0; i < LENGTH; i += 8) {
 *                 memory.putLong(i, 0x0102030405060708L * (i + 1));
 *             }
 *             transfer(bar0, msi, iova, EDU_BUFFER, 0);
 *             transfer(bar0, msi, EDU_BUFFER, iova + page, DMA_TO_RAM);
 *             for (int i = 0; i < LENGTH; i += 8) {
 *                 if (memory.getLongAcquire(page + i) != 0x0102030405060708L * (i + 1)) {
 *                     throw new IllegalStateException("the copy differs at byte " + i);
 *                 }
 *             }
 *             System.out.printf("DMA: %d bytes RAM -> edu -> RAM at IOVA 0x%x, copy verified%n", LENGTH, iova);
 *             device.disableIrq(IrqInfo.MSI);
 *         }
 *         // 6. Closed: no descriptor, BAR mapping, IOMMU mapping or DMA memory is left.
 *         System.out.println("closed");
 *     }
 *
 *     // One edu transfer: program the engine, ring it, wait for the completion MSI and acknowledge it.
 *     static void transfer(MemorySegment bar0, EventFd msi, long src, long dst, int direction) {
 *         Mmio.write64(bar0, DMA_SRC, src);
 *         Mmio.write64(bar0, DMA_DST, dst);
 *         Mmio.write64(bar0, DMA_COUNT, LENGTH);
 *         Mmio.write32(bar0, DMA_CMD, DMA_RUN | DMA_IRQ | direction); // the doorbell
 *         if (msi.await(10_000) == 0) {
 *             throw new IllegalStateException("no MSI from edu within 10 s of starting a DMA");
 *         }
 *         Mmio.write32(bar0, IRQ_ACK, Mmio.read32(bar0, IRQ_STATUS));
 *     }
 * }
 * }
 *
 * <p>Every system call goes through {@link io.isthmus.vfio.VfioSys}, the one seam: {@code VfioSys.linux()} in
 * production, a canned-answer twin in the host tests. Info structures are read with the jextract-generated
 * layouts ({@code io.isthmus.bindings.vfio}); capability chains are decoded by the same code whether the bytes
 * come from the kernel or a test. Messages are ASCII, so they read the same on any console.
 *
 * <h2>Tests</h2>
 * Host tests need no {@code /dev/vfio}: config-space parsing is checked against {@code lspci -vvv -F} on committed
 * dumps and this machine's real devices, sysfs listing on a synthetic tree and the real {@code /sys}. The tests
 * against a real device ({@code io.isthmus.vfio.lab}, QEMU's edu behind an emulated intel-iommu) are tagged
 * {@code lab}: vfio's surefire excludes that tag ({@code excludedGroups}), and vfio builds a test-jar so the lab
 * module can run them inside its guest, selected with
 * {@code -Disthmus.lab.select="--select-class=io.isthmus.vfio.lab.EduLabTest --select-class=io.isthmus.vfio.lab.CliLabTest"} (or by scanning that jar for the tag).
 * The driver author's path has its own: {@code DriverPathLabTest} (close order, DMA accessors, config helpers,
 * IOVAs, lookup, a second open, buffer slices, ASCII messages), {@code BindUnbindLabTest} ({@code isthmus vfio
 * bind/unbind}) and {@code ExampleLabTest} (the example above, in its own JVM on the lab's POSIX console).
 */
package io.isthmus.vfio;
