package io.isthmus.vmm.passthrough;

import io.isthmus.kvm.MemorySlot;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.vfio.RegionInfo;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vmm.pci.BarMapper;
import io.isthmus.vmm.pci.MsixCapability;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One memory BAR of a passthrough function in guest-physical space: its mmap-able parts become KVM memory slots
 * (the guest reaches the device with no VM exit), and a trapping {@link BusDevice} covers the whole BAR on the bus's
 * memory space, reached only where no slot lies: the MSI-X table and PBA (emulated by {@link MsixCapability}) and
 * whatever VFIO does not let us mmap (forwarded through the device fd).
 *
 * <p>The device's mmap-able parts are mapped into this process once, when the function is made; the slots come and
 * go with {@link #map}/{@link #unmap}, which the bus calls under its mapping lock. Lifetime: the function's; the
 * mappings go when the {@link VfioDevice} closes. Thread-safety: {@link #map}/{@link #unmap} are serialized by the
 * bus; trapped accesses come from vCPU threads concurrently and serialize on this object; they allocate nothing.
 *
 * <p>Every trapped access is one VM exit to this VMM (a {@code KVM_EXIT_MMIO} in the BAR's range: the trap covers
 * the whole BAR and is reached only where no slot lies), so the BAR counts them, by where they land: the MSI-X
 * table and PBA, which must trap, and everything else, which with the BAR mapped as slots never should
 * ({@link #trappedMsix()}, {@link #trappedOther()}).
 */
final class VfioBar implements BarMapper {
    private static final int PAGE = 4096;

    private final Vm vm;
    private final VfioDevice device;
    private final int index;
    private final long size;
    private final long regionSize;
    private final MmioBus memorySpace;
    private final MsixCapability msix;
    private final String name;
    /** The parts mapped as slots: offset in the BAR and the host mapping. */
    private final List<long[]> areaOffsets = new ArrayList<>();
    private final List<MemorySegment> areas = new ArrayList<>();
    private final List<MemorySlot> slots = new ArrayList<>();
    private final Trap trap = new Trap();
    private final MemorySegment[] buffers = new MemorySegment[9];
    private long mappedAt = -1;
    private final AtomicLong trappedMsix = new AtomicLong();
    private final AtomicLong trappedOther = new AtomicLong();

    /**
     * BAR {@code index} of {@code device}, {@code size} bytes as the guest sees it (at least the region's size),
     * with {@code msix}'s table and PBA trapped where they lie in it ({@code msix} null: none here).
     */
    VfioBar(Vm vm, VfioDevice device, int index, long size, MmioBus memorySpace, MsixCapability msix) {
        this.vm = vm;
        this.device = device;
        this.index = index;
        this.size = size;
        this.memorySpace = memorySpace;
        this.msix = msix;
        this.name = device.name() + " BAR" + index;
        RegionInfo r = device.region(index);
        this.regionSize = r.size();
        Arena arena = Arena.ofAuto();
        for (int s : new int[] {1, 2, 4, 8}) {
            buffers[s] = arena.allocate(s, 8);
        }
        if (!r.mappable() || r.size() % PAGE != 0) {
            return; // all trapped
        }
        if (r.sparseAreas().isEmpty()) {
            if (!overlapsMsix(0, r.size())) {
                addArea(0, device.mapRegion(index));
            }
            return;
        }
        for (RegionInfo.SparseArea a : r.sparseAreas()) {
            // vfio-pci already leaves the MSI-X table out of the sparse areas (unless the device allows mapping it).
            if (a.offset() % PAGE == 0 && a.size() % PAGE == 0 && a.size() > 0 && !overlapsMsix(a.offset(), a.size())) {
                addArea(a.offset(), device.mapArea(index, a));
            }
        }
    }

    private void addArea(long offset, MemorySegment host) {
        areaOffsets.add(new long[] {offset});
        areas.add(host);
    }

    private boolean overlapsMsix(long offset, long length) {
        if (msix == null) {
            return false;
        }
        return msix.tableBar() == index && overlaps(offset, length, msix.tableOffset(), msix.tableSize())
                || msix.pbaBar() == index && overlaps(offset, length, msix.pbaOffset(),
                MsixCapability.pbaSize(msix.vectors()));
    }

    private static boolean overlaps(long a, long alen, long b, long blen) {
        return a < b + blen && b < a + alen;
    }

    /** How many parts of the BAR are memory slots while it is mapped (0: every access traps). */
    int mappedAreas() {
        return areas.size();
    }

    /** Its BAR register. */
    int index() {
        return index;
    }

    /** Guest accesses to the MSI-X table or PBA in this BAR so far: each one a VM exit, as it must be. */
    long trappedMsix() {
        return trappedMsix.get();
    }

    /** Guest accesses elsewhere in this BAR that trapped (VM exits): 0 while its registers are all slots. */
    long trappedOther() {
        return trappedOther.get();
    }

    @Override
    public void map(long address) {
        memorySpace.insert(address, size, trap, name);
        mappedAt = address;
        try {
            for (int i = 0; i < areas.size(); i++) {
                slots.add(vm.setMemorySlot(freeSlot(), 0, address + areaOffsets.get(i)[0], areas.get(i)));
            }
        } catch (RuntimeException e) {
            unmap();
            throw e;
        }
    }

    @Override
    public void unmap() {
        for (MemorySlot s : slots) {
            vm.removeSlot(s);
        }
        slots.clear();
        if (mappedAt >= 0) {
            memorySpace.remove(mappedAt);
            mappedAt = -1;
        }
    }

    /** The lowest slot number the VM does not use (slot numbers are handed out under the bus's mapping lock). */
    private int freeSlot() {
        java.util.BitSet used = new java.util.BitSet();
        for (MemorySlot s : vm.slots()) {
            used.set(s.slot());
        }
        return used.nextClearBit(0);
    }

    /** Accesses where no slot lies: the MSI-X structures, and the device's registers through the device fd. */
    private final class Trap implements BusDevice {
        @Override
        public long read(long offset, int size) {
            if (msix != null && msix.tableBar() == index && inside(offset, msix.tableOffset(), msix.tableSize())) {
                trappedMsix.incrementAndGet();
                return msix.readTable(offset - msix.tableOffset(), size);
            }
            if (msix != null && msix.pbaBar() == index && inside(offset, msix.pbaOffset(),
                    MsixCapability.pbaSize(msix.vectors()))) {
                trappedMsix.incrementAndGet();
                return msix.readPba(offset - msix.pbaOffset(), size);
            }
            trappedOther.incrementAndGet();
            if (!sizeOk(size) || offset + size > regionSize) {
                return -1L >>> (64 - 8 * Math.min(size, 8)); // past the device's region: open bus, all ones
            }
            synchronized (this) {
                MemorySegment b = buffers[size];
                device.read(index, offset, b);
                return switch (size) {
                    case 1 -> b.get(ValueLayout.JAVA_BYTE, 0) & 0xffL;
                    case 2 -> b.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0) & 0xffffL;
                    case 4 -> b.get(ValueLayout.JAVA_INT_UNALIGNED, 0) & 0xffffffffL;
                    default -> b.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                };
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            if (msix != null && msix.tableBar() == index && inside(offset, msix.tableOffset(), msix.tableSize())) {
                trappedMsix.incrementAndGet();
                msix.writeTable(offset - msix.tableOffset(), size, value);
                return;
            }
            if (msix != null && msix.pbaBar() == index && inside(offset, msix.pbaOffset(),
                    MsixCapability.pbaSize(msix.vectors()))) {
                trappedMsix.incrementAndGet();
                return; // the PBA is read-only
            }
            trappedOther.incrementAndGet();
            if (!sizeOk(size) || offset + size > regionSize) {
                return;
            }
            synchronized (this) {
                MemorySegment b = buffers[size];
                switch (size) {
                    case 1 -> b.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
                    case 2 -> b.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) value);
                    case 4 -> b.set(ValueLayout.JAVA_INT_UNALIGNED, 0, (int) value);
                    default -> b.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
                }
                device.write(index, offset, b);
            }
        }

        private static boolean sizeOk(int size) {
            return size == 1 || size == 2 || size == 4 || size == 8;
        }

        private static boolean inside(long offset, long start, long length) {
            return offset >= start && offset < start + length;
        }
    }
}
