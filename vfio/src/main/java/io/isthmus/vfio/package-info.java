/**
 * Safe types over the VFIO ioctls: {@link io.isthmus.vfio.VfioContainer} (API version, extensions, type1/type1v2
 * IOMMU, IOMMU info with its capability chain, DMA map/unmap) → {@link io.isthmus.vfio.VfioGroup} (viability,
 * attachment) → {@link io.isthmus.vfio.VfioDevice} (regions with capabilities, BARs as {@code MemorySegment}s,
 * config space, IRQs through {@code VFIO_DEVICE_SET_IRQS}, reset). Each is made only by its parent and closed in
 * the reverse order (device, group, container); {@link io.isthmus.vfio.VfioException} names the failing step and
 * carries errno.
 *
 * <p>Every system call goes through {@link io.isthmus.vfio.VfioSys}, the one seam: {@code VfioSys.linux()} in
 * production, a canned-answer twin in the host tests. Info structures are read with the jextract-generated
 * layouts ({@code io.isthmus.bindings.vfio}); capability chains are decoded by the same code whether the bytes
 * come from the kernel or a test.
 *
 * <h2>Tests</h2>
 * Host tests need no {@code /dev/vfio}: config-space parsing is checked against {@code lspci -vvv -F} on committed
 * dumps and this machine's real devices, sysfs listing on a synthetic tree and the real {@code /sys}. The tests
 * against a real device ({@code io.isthmus.vfio.lab}, QEMU's edu behind an emulated intel-iommu) are tagged
 * {@code lab}: vfio's surefire excludes that tag ({@code excludedGroups}), and vfio builds a test-jar so the lab
 * module can run them inside its guest, selected with
 * {@code -Disthmus.lab.select="--select-class=io.isthmus.vfio.lab.EduLabTest --select-class=io.isthmus.vfio.lab.CliLabTest"} (or by scanning that jar for the tag).
 */
package io.isthmus.vfio;
