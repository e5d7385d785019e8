package io.isthmus.vfio;

import static io.isthmus.vfio.VfioException.Step.*;

import io.isthmus.bindings.vfio.vfio_device_info;
import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_irq_info;
import io.isthmus.bindings.vfio.vfio_irq_set;
import io.isthmus.bindings.vfio.vfio_region_info;
import io.isthmus.sys.EventFd;
import io.isthmus.sys.Libc;
import io.isthmus.sys.VfioIoctl;
import io.isthmus.vfio.pci.PciConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A device fd from a {@link VfioGroup}: its regions (BARs, ROM, config space), interrupts and reset. Regions and
 * interrupts are discovered when the device is opened ({@link VfioGroup#device(String)},
 * {@link VfioContainer#device(PciAddress)}). One object per device and group: opening it again while it is open
 * returns this object.
 *
 * <p>Lifetime: BAR mappings returned by {@link #mapRegion(int)} belong to this device and are unmapped by
 * {@link #close()}, after which touching them throws {@link IllegalStateException} (the segments' arena is
 * closed). Close the device before its group (the group's close does it for you). Stop the device's DMA
 * ({@link #clearCommandBits} with {@link PciConfig#COMMAND_MASTER}, or a device-specific stop) before freeing
 * memory it may still write; closing the container unmaps that memory from the IOMMU.
 *
 * <p>Thread-safety: region reads/writes, IRQ and reset calls may be made from any thread; mapping is
 * synchronized. The mapped segments are shared memory: several threads may access them.
 */
public final class VfioDevice implements AutoCloseable {
    private final VfioSys sys;
    private final VfioGroup group;
    private final KernelFd fd;
    private final String name;
    private final int flags;
    private final List<RegionInfo> regions;
    private final List<IrqInfo> irqs;
    private final Arena mappings = Arena.ofShared();
    private final Map<Integer, MemorySegment> mapped = new HashMap<>();

    private VfioDevice(VfioSys sys, VfioGroup group, KernelFd fd, String name, int flags, List<RegionInfo> regions,
            List<IrqInfo> irqs) {
        this.sys = sys;
        this.group = group;
        this.fd = fd;
        this.name = name;
        this.flags = flags;
        this.regions = regions;
        this.irqs = irqs;
    }

    static VfioDevice discover(VfioSys sys, VfioGroup group, KernelFd fd, String name) {
        int flags, numRegions, numIrqs;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = vfio_device_info.allocate(arena);
            vfio_device_info.argsz(info, (int) vfio_device_info.sizeof());
            int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_DEVICE_GET_INFO, info);
            if (r < 0) {
                throw VfioException.kernel(DEVICE_GET_INFO, "ioctl VFIO_DEVICE_GET_INFO on " + fd.name(), r);
            }
            flags = vfio_device_info.flags(info);
            numRegions = vfio_device_info.num_regions(info);
            numIrqs = vfio_device_info.num_irqs(info);
        }
        List<RegionInfo> regions = new ArrayList<>();
        for (int i = 0; i < numRegions; i++) {
            regions.add(regionInfo(sys, fd, i));
        }
        List<IrqInfo> irqs = new ArrayList<>();
        for (int i = 0; i < numIrqs; i++) {
            irqs.add(irqInfo(sys, fd, i));
        }
        return new VfioDevice(sys, group, fd, name, flags, List.copyOf(regions), List.copyOf(irqs));
    }

    /** {@code VFIO_DEVICE_GET_REGION_INFO} for {@code index}, growing the buffer when capabilities need it. */
    static RegionInfo regionInfo(VfioSys sys, KernelFd fd, int index) {
        long size = vfio_region_info.sizeof();
        for (int attempt = 0; attempt < 4; attempt++) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment info = arena.allocate(size, 8);
                vfio_region_info.argsz(info, (int) size);
                vfio_region_info.index(info, index);
                int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_DEVICE_GET_REGION_INFO, info);
                if (r == -io.isthmus.sys.Errno.EINVAL && index == vfio_h.VFIO_PCI_VGA_REGION_INDEX()) {
                    // vfio-pci answers EINVAL for the VGA region of a device that is not a VGA controller:
                    // the region is absent, not an error (rust-vmm's vfio-ioctls treats it the same way).
                    return new RegionInfo(index, 0, 0, 0, java.util.List.of(), java.util.Optional.empty(), false);
                }
                if (r < 0) {
                    throw VfioException.kernel(DEVICE_GET_REGION_INFO,
                            "ioctl VFIO_DEVICE_GET_REGION_INFO " + RegionInfo.name(index) + " on " + fd.name(), r);
                }
                long wanted = Integer.toUnsignedLong(vfio_region_info.argsz(info));
                if (wanted <= size) {
                    return RegionInfo.decode(info);
                }
                size = wanted;
            }
        }
        throw new VfioException(DEVICE_GET_REGION_INFO, "the kernel kept asking for a larger buffer for "
                + RegionInfo.name(index) + " of " + fd.name());
    }

    static IrqInfo irqInfo(VfioSys sys, KernelFd fd, int index) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = vfio_irq_info.allocate(arena);
            vfio_irq_info.argsz(info, (int) vfio_irq_info.sizeof());
            vfio_irq_info.index(info, index);
            int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_DEVICE_GET_IRQ_INFO, info);
            if (r == -io.isthmus.sys.Errno.EINVAL) {
                // vfio-pci answers EINVAL for an index the device lacks (ERR on a conventional PCI function):
                // the interrupt is absent (count 0), not an error.
                return new IrqInfo(index, 0, 0);
            }
            if (r < 0) {
                throw VfioException.kernel(DEVICE_GET_IRQ_INFO,
                        "ioctl VFIO_DEVICE_GET_IRQ_INFO " + IrqInfo.name(index) + " on " + fd.name(), r);
            }
            return new IrqInfo(index, vfio_irq_info.flags(info), vfio_irq_info.count(info));
        }
    }

    /** The device's name, e.g. {@code 0000:00:02.0}. */
    public String name() {
        return name;
    }

    /** The group this device was opened through. */
    public VfioGroup group() {
        return group;
    }

    /** {@code VFIO_DEVICE_FLAGS_*} from {@code VFIO_DEVICE_GET_INFO}. */
    public int flags() {
        return flags;
    }

    public boolean isPci() {
        return (flags & vfio_h.VFIO_DEVICE_FLAGS_PCI()) != 0;
    }

    /** Whether the device supports {@link #reset()}. */
    public boolean canReset() {
        return (flags & vfio_h.VFIO_DEVICE_FLAGS_RESET()) != 0;
    }

    /** All regions, by index. */
    public List<RegionInfo> regions() {
        return regions;
    }

    /** All interrupt indexes. */
    public List<IrqInfo> irqs() {
        return irqs;
    }

    public RegionInfo region(int index) {
        if (index < 0 || index >= regions.size()) {
            throw new VfioException(INVALID_ARGUMENT, "region " + index + " does not exist on " + name + " (it has "
                    + regions.size() + ")");
        }
        return regions.get(index);
    }

    public IrqInfo irq(int index) {
        if (index < 0 || index >= irqs.size()) {
            throw new VfioException(INVALID_ARGUMENT, "interrupt index " + index + " does not exist on " + name);
        }
        return irqs.get(index);
    }

    /**
     * Maps all of region {@code index} (typically a BAR) read-write as a {@link MemorySegment} sized to the region.
     * Mapped once; later calls return the same segment. Unmapped when this device closes.
     *
     * @throws VfioException {@code RegionMmap} when the region is empty, not mmap-able, only sparsely mmap-able
     *                       (use {@link #mapArea}) or the kernel refuses
     */
    public synchronized MemorySegment mapRegion(int index) {
        MemorySegment existing = mapped.get(index);
        if (existing != null) {
            return existing;
        }
        RegionInfo r = region(index);
        if (r.size() == 0 || !r.mappable()) {
            throw new VfioException(REGION_MMAP, RegionInfo.name(index) + " of " + name + " cannot be mmap'd ("
                    + r.describe() + "); use read/write through the device fd");
        }
        if (!r.sparseAreas().isEmpty()) {
            throw new VfioException(REGION_MMAP, RegionInfo.name(index) + " of " + name
                    + " is mmap-able only in parts " + r.sparseAreas() + "; map them with mapArea");
        }
        MemorySegment seg = mmap(r, 0, r.size());
        mapped.put(index, seg);
        return seg;
    }

    /** Maps one sparse mmap area of region {@code index}; unmapped when this device closes. */
    public synchronized MemorySegment mapArea(int index, RegionInfo.SparseArea area) {
        RegionInfo r = region(index);
        if (!r.sparseAreas().contains(area)) {
            throw new VfioException(INVALID_ARGUMENT, area + " is not a sparse mmap area of " + RegionInfo.name(index));
        }
        return mmap(r, area.offset(), area.size());
    }

    private MemorySegment mmap(RegionInfo r, long offset, long size) {
        try {
            return sys.mmap(mappings, fd.get(), r.offset() + offset, size, Libc.PROT_READ | Libc.PROT_WRITE,
                    RegionInfo.name(r.index()) + " of " + name);
        } catch (io.isthmus.sys.NativeException e) {
            throw VfioException.kernel(REGION_MMAP, e.operation(), -e.errno());
        }
    }

    /** Reads {@code buf.byteSize()} bytes of region {@code index} at {@code offset} through the device fd. */
    public void read(int index, long offset, MemorySegment buf) {
        RegionInfo r = checkRange(index, offset, buf.byteSize());
        long n = sys.pread(fd.get(), buf, r.offset() + offset);
        if (n < 0) {
            throw VfioException.kernel(REGION_READ, String.format("pread %s+0x%x (%d bytes) of %s",
                    RegionInfo.name(index), offset, buf.byteSize(), name), (int) n);
        }
        if (n != buf.byteSize()) {
            throw new VfioException(REGION_READ, String.format("short read of %s+0x%x: %d of %d bytes",
                    RegionInfo.name(index), offset, n, buf.byteSize()));
        }
    }

    /** Writes {@code buf} to region {@code index} at {@code offset} through the device fd. */
    public void write(int index, long offset, MemorySegment buf) {
        RegionInfo r = checkRange(index, offset, buf.byteSize());
        long n = sys.pwrite(fd.get(), buf, r.offset() + offset);
        if (n < 0) {
            throw VfioException.kernel(REGION_WRITE, String.format("pwrite %s+0x%x (%d bytes) of %s",
                    RegionInfo.name(index), offset, buf.byteSize(), name), (int) n);
        }
        if (n != buf.byteSize()) {
            throw new VfioException(REGION_WRITE, String.format("short write of %s+0x%x: %d of %d bytes",
                    RegionInfo.name(index), offset, n, buf.byteSize()));
        }
    }

    private RegionInfo checkRange(int index, long offset, long length) {
        RegionInfo r = region(index);
        if (offset < 0 || length < 0 || offset + length > r.size()) {
            throw new VfioException(INVALID_ARGUMENT, String.format("%s+0x%x (%d bytes) is outside %s of %s (size 0x%x)",
                    RegionInfo.name(index), offset, length, RegionInfo.name(index), name, r.size()));
        }
        return r;
    }

    /** The whole PCI config space as the kernel exposes it through the config region (256 or 4096 bytes). */
    public byte[] readConfig() {
        RegionInfo r = region(vfio_h.VFIO_PCI_CONFIG_REGION_INDEX());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.min(r.size(), 4096));
            read(r.index(), 0, buf);
            return buf.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * One byte of config space at {@code offset} ({@link PciConfig} names the header's registers), through the
     * config region: vfio-pci virtualizes some registers (see {@link #setCommandBits}). Config space is
     * little-endian; the 16- and 32-bit forms return the register's value.
     */
    public int readConfig8(int offset) {
        return (int) readConfig(offset, 1) & 0xff;
    }

    public int readConfig16(int offset) {
        return (int) readConfig(offset, 2) & 0xffff;
    }

    public int readConfig32(int offset) {
        return (int) readConfig(offset, 4);
    }

    /** Writes the low 8 bits of {@code value} to config space at {@code offset}. */
    public void writeConfig8(int offset, int value) {
        writeConfig(offset, 1, value);
    }

    /** Writes the low 16 bits of {@code value} to config space at {@code offset}. */
    public void writeConfig16(int offset, int value) {
        writeConfig(offset, 2, value);
    }

    public void writeConfig32(int offset, int value) {
        writeConfig(offset, 4, value);
    }

    /**
     * Sets {@code bits} ({@link PciConfig}{@code .COMMAND_*}) in the command register, read-modify-write, and checks
     * they read back set; returns the register's new value. A driver's first call:
     * {@code setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER)}: memory decoding for the BARs,
     * bus mastering for DMA and MSI. After {@link #reset()} the bits are clear again.
     *
     * @throws VfioException {@code PciCommand} when a bit does not stick (the device or vfio-pci refused it), or
     *                       the config read/write steps
     */
    public int setCommandBits(int bits) {
        return updateCommand(bits, 0);
    }

    /**
     * Clears {@code bits} in the command register (e.g. {@link PciConfig#COMMAND_MASTER} to stop the device's DMA
     * before freeing its buffers) and checks they read back clear; returns the register's new value.
     *
     * @throws VfioException {@code PciCommand} when a bit stays set, or the config read/write steps
     */
    public int clearCommandBits(int bits) {
        return updateCommand(0, bits);
    }

    private int updateCommand(int set, int clear) {
        if (((set | clear) & ~0xffff) != 0) {
            throw new VfioException(INVALID_ARGUMENT, String.format("command register bits 0x%x do not fit its 16"
                    + " bits (use PciConfig.COMMAND_*)", set | clear));
        }
        int old = readConfig16(PciConfig.COMMAND);
        writeConfig16(PciConfig.COMMAND, (old | set) & ~clear);
        int now = readConfig16(PciConfig.COMMAND);
        if ((now & set) != set || (now & clear) != 0) {
            throw new VfioException(PCI_COMMAND, String.format("%s: command register 0x%04x, after setting 0x%x"
                    + " and clearing 0x%x it reads 0x%04x (the device or vfio-pci did not take the change)", name,
                    old, set, clear, now));
        }
        return now;
    }

    private long readConfig(int offset, int size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            read(vfio_h.VFIO_PCI_CONFIG_REGION_INDEX(), offset, buf.asSlice(0, size));
            // Config space is little-endian, whatever the CPU's order.
            return buf.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        }
    }

    private void writeConfig(int offset, int size, int value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            buf.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, value);
            write(vfio_h.VFIO_PCI_CONFIG_REGION_INDEX(), offset, buf.asSlice(0, size));
        }
    }

    // ---- interrupts (VFIO_DEVICE_SET_IRQS) ----

    /**
     * Routes vectors {@code start..start+n-1} of interrupt {@code index} (INTx, MSI, MSI-X) to {@code eventfds}:
     * the kernel signals the eventfd when the device raises the vector. For MSI/MSI-X this enables the
     * capability with {@code n} vectors.
     */
    public void enableIrq(int index, int start, EventFd... eventfds) {
        int n = eventfds.length;
        setIrqs(index, vfio_h.VFIO_IRQ_SET_DATA_EVENTFD() | vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), start, n, data -> {
            for (int i = 0; i < n; i++) {
                data.setAtIndex(ValueLayout.JAVA_INT, i, eventfds[i].fd().get());
            }
        }, 4L * n);
    }

    /** Tears down interrupt {@code index} (count 0, {@code DATA_NONE | ACTION_TRIGGER}). */
    public void disableIrq(int index) {
        setIrqs(index, vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), 0, 0, d -> {}, 0);
    }

    /** Fires vectors {@code start..start+count-1} from software, as if the device had (a loopback test). */
    public void triggerIrq(int index, int start, int count) {
        setIrqs(index, vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER(), start, count, d -> {},
                0);
    }

    /** Masks vectors (for INTx: the line; requires {@link IrqInfo#maskable()}). */
    public void maskIrq(int index, int start, int count) {
        setIrqs(index, vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_MASK(), start, count, d -> {}, 0);
    }

    /** Unmasks vectors (for INTx: re-arms the line after an automasked interrupt was handled). */
    public void unmaskIrq(int index, int start, int count) {
        setIrqs(index, vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_UNMASK(), start, count, d -> {},
                0);
    }

    private void setIrqs(int index, int flags, int start, int count, java.util.function.Consumer<MemorySegment> fill,
            long dataBytes) {
        irq(index);
        try (Arena arena = Arena.ofConfined()) {
            long size = vfio_irq_set.sizeof() + dataBytes;
            MemorySegment set = arena.allocate(size, 8);
            vfio_irq_set.argsz(set, (int) size);
            vfio_irq_set.flags(set, flags);
            vfio_irq_set.index(set, index);
            vfio_irq_set.start(set, start);
            vfio_irq_set.count(set, count);
            fill.accept(set.asSlice(vfio_irq_set.sizeof(), dataBytes));
            int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_DEVICE_SET_IRQS, set);
            if (r < 0) {
                throw VfioException.kernel(DEVICE_SET_IRQS, String.format(
                        "ioctl VFIO_DEVICE_SET_IRQS %s vectors %d..%d flags 0x%x on %s", IrqInfo.name(index), start,
                        start + count - 1, flags, fd.name()), r);
            }
        }
    }

    /** {@code VFIO_DEVICE_RESET}: a function-level (or equivalent) reset of the device. */
    public void reset() {
        if (!canReset()) {
            throw new VfioException(DEVICE_RESET, name + " does not support reset (no VFIO_DEVICE_FLAGS_RESET: no FLR,"
                    + " PM or bus reset available)");
        }
        int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_DEVICE_RESET, 0L);
        if (r < 0) {
            throw VfioException.kernel(DEVICE_RESET, "ioctl VFIO_DEVICE_RESET on " + fd.name(), r);
        }
    }

    /** Unmaps the BARs (their segments become inaccessible), then closes the device fd. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (fd.closed()) {
                return;
            }
            mapped.clear();
            mappings.close();
            fd.close();
        }
        group.forget(this);
    }

    @Override
    public String toString() {
        return "VfioDevice[" + name + ", " + fd + "]";
    }
}
