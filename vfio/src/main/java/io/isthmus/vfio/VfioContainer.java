package io.isthmus.vfio;

import static io.isthmus.vfio.VfioException.Step.*;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_iommu_type1_dma_map;
import io.isthmus.bindings.vfio.vfio_iommu_type1_dma_unmap;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info;
import io.isthmus.sys.VfioIoctl;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A VFIO container ({@code /dev/vfio/vfio}): one IOMMU address space shared by the groups attached to it.
 *
 * <p>Made by {@link #open()}, which checks the API version and that a type1 IOMMU (type1v2 preferred) is
 * available before returning, as rust-vmm's {@code VfioContainer::new} does. Groups are opened through
 * {@link #group(int)}, which attaches them and, for the first one, sets the IOMMU type (the kernel accepts
 * {@code VFIO_SET_IOMMU} only once a group is attached); {@link #device(PciAddress)} finds a device's group in
 * sysfs and opens both in one call.
 *
 * <p>Lifetime and close order: {@link #close()} closes the groups (each closing its devices first: a device fd
 * must be closed before its group is released, else the kernel keeps the group busy), then the container fd.
 * Detaching the last group drops the IOMMU and with it every DMA mapping, so a {@link DmaMapping} (or a
 * {@code DmaBuffer}) may be closed before or after its container: after, its close has nothing left to unmap and
 * makes no system call. DMA-mapped memory must stay allocated until it is unmapped or the container is closed
 * (or its last group): the IOMMU keeps pointing at it until then.
 *
 * <p>Thread-safety: DMA map/unmap may be called from any thread (the kernel serialises them); opening and
 * closing groups, and closing a {@link DmaMapping}, are synchronized on the container, so a mapping's unmap never
 * races the container's close onto a reused descriptor number.
 */
public final class VfioContainer implements AutoCloseable {
    /** The container device. */
    public static final String CONTAINER_PATH = "/dev/vfio/vfio";

    private final VfioSys sys;
    private final KernelFd fd;
    private final String devVfio;
    private final Map<Integer, VfioGroup> groups = new LinkedHashMap<>();
    private final int iommuType;
    private boolean iommuSet;
    /**
     * Counts the IOMMUs this container has had: the kernel drops the IOMMU, and every mapping in it, when the last
     * group detaches, and a later group sets a new one. A mapping unmaps itself only in the IOMMU it was made in,
     * never a newer mapping at the same IOVA. Guarded by {@code this}.
     */
    private int iommuGeneration;

    private VfioContainer(VfioSys sys, KernelFd fd, String devVfio, int iommuType) {
        this.sys = sys;
        this.fd = fd;
        this.devVfio = devVfio;
        this.iommuType = iommuType;
    }

    /** Opens {@code /dev/vfio/vfio} on the real kernel. */
    public static VfioContainer open() {
        return open(VfioSys.linux(), "/dev/vfio");
    }

    /**
     * Opens {@code devVfio/vfio} through {@code sys}, checks {@code VFIO_GET_API_VERSION} and picks type1v2
     * (else type1).
     *
     * @throws VfioException {@code OpenContainer}, {@code ApiVersion} or {@code CheckExtension}
     */
    public static VfioContainer open(VfioSys sys, String devVfio) {
        String path = devVfio + "/vfio";
        int r = sys.open(path);
        if (r < 0) {
            throw VfioException.kernel(OPEN_CONTAINER, "open " + path, r, -r == io.isthmus.sys.Errno.ENOENT
                    ? path + " does not exist: load the vfio and vfio-pci modules (modprobe vfio-pci) on a machine"
                    + " with an IOMMU (intel_iommu=on / amd_iommu=on)" : null);
        }
        KernelFd fd = new KernelFd(sys, r, path);
        try {
            int version = sys.ioctl(fd.get(), VfioIoctl.VFIO_GET_API_VERSION, 0L);
            if (version < 0) {
                throw VfioException.kernel(API_VERSION, "ioctl VFIO_GET_API_VERSION on " + path, version);
            }
            if (version != vfio_h.VFIO_API_VERSION()) {
                throw new VfioException(API_VERSION, "kernel VFIO API version " + version + ", Isthmus speaks "
                        + vfio_h.VFIO_API_VERSION());
            }
            int type;
            if (check(sys, fd, vfio_h.VFIO_TYPE1v2_IOMMU())) {
                type = vfio_h.VFIO_TYPE1v2_IOMMU();
            } else if (check(sys, fd, vfio_h.VFIO_TYPE1_IOMMU())) {
                type = vfio_h.VFIO_TYPE1_IOMMU();
            } else {
                throw new VfioException(CHECK_EXTENSION, path + " supports neither VFIO_TYPE1v2_IOMMU nor"
                        + " VFIO_TYPE1_IOMMU (is the vfio_iommu_type1 module loaded?)");
            }
            return new VfioContainer(sys, fd, devVfio, type);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static boolean check(VfioSys sys, KernelFd fd, int extension) {
        int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_CHECK_EXTENSION, extension);
        if (r < 0) {
            throw VfioException.kernel(CHECK_EXTENSION, "ioctl VFIO_CHECK_EXTENSION " + extension + " on "
                    + fd.name(), r);
        }
        return r > 0;
    }

    /** Whether the container supports {@code extension} (a {@code VFIO_*_IOMMU} or other extension number). */
    public boolean hasExtension(int extension) {
        return check(sys, fd, extension);
    }

    /** The IOMMU type this container uses ({@code VFIO_TYPE1v2_IOMMU} or {@code VFIO_TYPE1_IOMMU}). */
    public int iommuType() {
        return iommuType;
    }

    /**
     * Opens group {@code groupId} ({@code /dev/vfio/N}), checks it is viable, attaches it to this container and
     * sets the IOMMU if it is the first. Returns the same {@link VfioGroup} when called again for that id.
     *
     * @throws VfioException {@code OpenGroup} (EBUSY: the group is open elsewhere), {@code GroupNotViable},
     *                       {@code GroupSetContainer} or {@code SetIommu}
     */
    public synchronized VfioGroup group(int groupId) {
        ensureOpen();
        VfioGroup existing = groups.get(groupId);
        if (existing != null) {
            return existing;
        }
        VfioGroup group = VfioGroup.open(sys, this, devVfio, groupId);
        try {
            group.attach(fd.get());
            if (!iommuSet) {
                int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_SET_IOMMU, iommuType);
                if (r < 0) {
                    throw VfioException.kernel(SET_IOMMU, "ioctl VFIO_SET_IOMMU " + iommuName() + " on "
                            + fd.name(), r);
                }
                iommuSet = true;
            }
        } catch (RuntimeException e) {
            group.close();
            throw e;
        }
        groups.put(groupId, group);
        return group;
    }

    synchronized void forget(VfioGroup group) {
        // A group that never joined (its attach failed) changes nothing; the last attached one takes the IOMMU.
        if (groups.remove(group.id(), group) && groups.isEmpty() && iommuSet) {
            // The last group detached: the kernel released the IOMMU and its mappings; the next group sets a new one.
            iommuSet = false;
            iommuGeneration++;
        }
    }

    /**
     * Opens the PCI device at {@code address}: looks up its IOMMU group and driver in {@code /sys}, opens and
     * attaches the group ({@link #group(int)}) and returns the device ({@link VfioGroup#device(PciAddress)}). The
     * device belongs to its group, which this container closes.
     *
     * @throws VfioException {@code FindDevice} when sysfs has no such device, it has no IOMMU group or no VFIO
     *                       driver drives it (each saying how to fix it), or the steps of {@link #group(int)} and
     *                       {@link VfioGroup#device(String)}
     */
    public VfioDevice device(PciAddress address) {
        SysfsPci sysfs = SysfsPci.system();
        PciDevice pci = sysfs.device(address).orElseThrow(() -> new VfioException(FIND_DEVICE, "no PCI device "
                + address + " in " + sysfs.root().resolve("bus/pci/devices")
                + " (see 'isthmus vfio list' for the devices present)"));
        return device(pci);
    }

    /**
     * Opens {@code pci} (from {@link SysfsPci}, e.g. {@link SysfsPci#withId}) through its IOMMU group; see
     * {@link #device(PciAddress)}. The group and driver are those of the snapshot {@code pci}.
     */
    public VfioDevice device(PciDevice pci) {
        ensureOpen();
        if (pci.iommuGroup().isEmpty()) {
            throw new VfioException(FIND_DEVICE, pci.address() + " has no IOMMU group: the IOMMU is off or missing"
                    + " (boot with intel_iommu=on or amd_iommu=on, and check the firmware enables VT-d/AMD-Vi)");
        }
        if (pci.driver().filter(d -> d.contains("vfio")).isEmpty()) {
            throw new VfioException(FIND_DEVICE, pci.address() + " is driven by "
                    + pci.driver().map(d -> "the kernel driver " + d).orElse("no driver")
                    + ", not vfio-pci: bind it first ('isthmus vfio bind " + pci.address() + "' as root)");
        }
        return group(pci.iommuGroup().getAsInt()).device(pci.address());
    }

    private String iommuName() {
        return iommuType == vfio_h.VFIO_TYPE1v2_IOMMU() ? "VFIO_TYPE1v2_IOMMU" : "VFIO_TYPE1_IOMMU";
    }

    /**
     * {@code VFIO_IOMMU_GET_INFO} with its capability chain: the call is made once with the bare structure
     * and again with the size the kernel asks for in {@code argsz} when capabilities do not fit.
     */
    public IommuInfo iommuInfo() {
        ensureIommu();
        long size = vfio_iommu_type1_info.sizeof();
        for (int attempt = 0; attempt < 4; attempt++) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment info = arena.allocate(size, 8);
                vfio_iommu_type1_info.argsz(info, (int) size);
                int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_IOMMU_GET_INFO, info);
                if (r < 0) {
                    throw VfioException.kernel(IOMMU_GET_INFO, "ioctl VFIO_IOMMU_GET_INFO on " + fd.name(), r);
                }
                long wanted = Integer.toUnsignedLong(vfio_iommu_type1_info.argsz(info));
                if (wanted <= size) {
                    return IommuInfo.decode(info);
                }
                size = wanted;
            }
        }
        throw new VfioException(IOMMU_GET_INFO, "the kernel kept asking for a larger buffer (" + size + " bytes)");
    }

    /**
     * Maps {@code host} (page-aligned, a whole number of pages) at {@code iova} in the IOMMU, so the devices
     * of this container may read ({@code read}) and/or write ({@code write}) it. The kernel pins the pages.
     * Returns the mapping; {@link DmaMapping#close()} unmaps it.
     *
     * @throws VfioException {@code IommuDmaMap}: EINVAL for misalignment, EEXIST for an overlap, ENOSPC when
     *                       the container's mapping limit is reached, ENOMEM when pages cannot be pinned
     */
    public DmaMapping map(MemorySegment host, long iova, boolean read, boolean write) {
        int generation = ensureIommu();
        int flags = (read ? vfio_h.VFIO_DMA_MAP_FLAG_READ() : 0) | (write ? vfio_h.VFIO_DMA_MAP_FLAG_WRITE() : 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = vfio_iommu_type1_dma_map.allocate(arena);
            int r = mapRaw(map, host.address(), iova, host.byteSize(), flags);
            if (r < 0) {
                throw VfioException.kernel(IOMMU_DMA_MAP, String.format(
                        "ioctl VFIO_IOMMU_MAP_DMA iova 0x%x size 0x%x on %s", iova, host.byteSize(), fd.name()), r);
            }
        }
        return new DmaMapping(this, host, iova, generation);
    }

    /**
     * Unmaps {@code [iova, iova + size)}; returns the number of bytes the kernel unmapped.
     *
     * @throws IllegalStateException when the container is closed (its mappings went with it)
     * @throws VfioException         {@code IommuDmaUnmap} when the kernel refuses
     */
    public long unmap(long iova, long size) {
        ensureOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment unmap = vfio_iommu_type1_dma_unmap.allocate(arena);
            int r = unmapRaw(unmap, iova, size);
            if (r < 0) {
                throw VfioException.kernel(IOMMU_DMA_UNMAP, String.format(
                        "ioctl VFIO_IOMMU_UNMAP_DMA iova 0x%x size 0x%x on %s", iova, size, fd.name()), r);
            }
            return vfio_iommu_type1_dma_unmap.size(unmap);
        }
    }

    /**
     * {@link DmaMapping#close()}: unmaps it unless the IOMMU it was made in is gone (the container closed, or its
     * last group detached), in which case the kernel already dropped it. Returns whether it made the call.
     */
    synchronized boolean release(DmaMapping mapping) {
        if (!mapped(mapping)) {
            return false;
        }
        unmap(mapping.iova(), mapping.size());
        return true;
    }

    /** Whether {@code mapping}'s IOMMU still exists: the container is open and has not lost its groups since. */
    synchronized boolean mapped(DmaMapping mapping) {
        return !fd.closed() && iommuSet && mapping.generation() == iommuGeneration;
    }

    /** Whether this container is open (not yet {@link #close() closed}). */
    public boolean isOpen() {
        return !fd.closed();
    }

    /** A {@code vfio_iommu_type1_dma_map} structure for {@link #mapRaw}, allocated once by the caller. */
    public static MemorySegment newMapStruct(Arena arena) {
        return vfio_iommu_type1_dma_map.allocate(arena);
    }

    /** A {@code vfio_iommu_type1_dma_unmap} structure for {@link #unmapRaw}, allocated once by the caller. */
    public static MemorySegment newUnmapStruct(Arena arena) {
        return vfio_iommu_type1_dma_unmap.allocate(arena);
    }

    /**
     * Hot-path {@code VFIO_IOMMU_MAP_DMA}: fills {@code map} (from {@link #newMapStruct}) and returns 0 or
     * {@code -errno}. Allocates nothing; throws nothing.
     */
    public int mapRaw(MemorySegment map, long vaddr, long iova, long size, int flags) {
        vfio_iommu_type1_dma_map.argsz(map, (int) vfio_iommu_type1_dma_map.sizeof());
        vfio_iommu_type1_dma_map.flags(map, flags);
        vfio_iommu_type1_dma_map.vaddr(map, vaddr);
        vfio_iommu_type1_dma_map.iova(map, iova);
        vfio_iommu_type1_dma_map.size(map, size);
        return sys.ioctl(fd.get(), VfioIoctl.VFIO_IOMMU_MAP_DMA, map);
    }

    /** Hot-path {@code VFIO_IOMMU_UNMAP_DMA}: returns 0 or {@code -errno}; allocates nothing. */
    public int unmapRaw(MemorySegment unmap, long iova, long size) {
        vfio_iommu_type1_dma_unmap.argsz(unmap, (int) vfio_iommu_type1_dma_unmap.sizeof());
        vfio_iommu_type1_dma_unmap.flags(unmap, 0);
        vfio_iommu_type1_dma_unmap.iova(unmap, iova);
        vfio_iommu_type1_dma_unmap.size(unmap, size);
        return sys.ioctl(fd.get(), VfioIoctl.VFIO_IOMMU_UNMAP_DMA, unmap);
    }

    /** {@code VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE}, for {@link #mapRaw}. */
    public static int readWrite() {
        return vfio_h.VFIO_DMA_MAP_FLAG_READ() | vfio_h.VFIO_DMA_MAP_FLAG_WRITE();
    }

    private void ensureOpen() {
        if (fd.closed()) {
            throw new IllegalStateException("VFIO container " + fd.name() + " is closed");
        }
    }

    private synchronized int ensureIommu() {
        ensureOpen();
        if (!iommuSet) {
            throw new IllegalStateException("the container has no IOMMU: attach a group first (group(n) or"
                    + " device(address)); the kernel sets the IOMMU type only once a group is attached");
        }
        return iommuGeneration;
    }

    /**
     * Closes the groups (their devices first), then the container fd; the kernel drops every DMA mapping, so the
     * {@link DmaMapping}s made here need not be closed first. Idempotent.
     */
    @Override
    public synchronized void close() {
        // Groups first (each closes its devices first): the container must outlive its groups' attachment.
        for (VfioGroup g : groups.values().toArray(VfioGroup[]::new)) {
            g.close();
        }
        groups.clear(); // the last group's close released the IOMMU (forget)
        fd.close();
    }

    @Override
    public String toString() {
        return "VfioContainer[" + fd + ", " + iommuName() + "]";
    }
}
