package io.isthmus.vfio.dma;

import io.isthmus.vfio.IommuInfo;
import io.isthmus.vfio.IovaRange;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Hands out I/O virtual addresses inside the IOMMU's usable ranges (from {@code VFIO_IOMMU_GET_INFO}), clipped to
 * the device's DMA mask, aligned to the IOMMU page size, never overlapping. First fit, lowest address first, but
 * never the first page: {@link #allocate} does not return IOVA 0, which many devices and drivers read as "no
 * address" (Linux's own IOVA allocator starts at page 1 for the same reason). {@link #reserve} still takes the
 * first page when asked by address.
 *
 * <p>Addresses are unsigned 64-bit values held in {@code long}s. Thread-safe (synchronized): allocation is not a
 * hot path; map/unmap themselves cost far more.
 */
public final class IovaAllocator {
    private final List<IovaRange> ranges;
    private final long pageSize;
    /** start -> size of each allocation, sorted by unsigned start. */
    private final TreeMap<Long, Long> allocated = new TreeMap<>(Long::compareUnsigned);

    /**
     * @param ranges   usable IOVA ranges (inclusive); empty means the whole 64-bit space
     * @param pageSize the IOMMU page size (a power of two); allocations are multiples of it
     * @param dmaBits  the device's DMA address width (e.g. 28 for QEMU's edu, 64 for none): IOVAs stay below 2^bits
     */
    public IovaAllocator(List<IovaRange> ranges, long pageSize, int dmaBits) {
        if (pageSize <= 0 || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("IOMMU page size must be a power of two, got " + pageSize);
        }
        if (dmaBits < 12 || dmaBits > 64) {
            throw new IllegalArgumentException("DMA address width must be 12..64 bits, got " + dmaBits);
        }
        long limit = dmaBits == 64 ? -1L : (1L << dmaBits) - 1;
        List<IovaRange> in = ranges.isEmpty() ? List.of(new IovaRange(0, -1L)) : ranges;
        List<IovaRange> clipped = new ArrayList<>();
        for (IovaRange r : in) {
            if (Long.compareUnsigned(r.start(), limit) > 0) {
                continue;
            }
            long end = Long.compareUnsigned(r.end(), limit) > 0 ? limit : r.end();
            clipped.add(new IovaRange(r.start(), end));
        }
        clipped.sort((a, b) -> Long.compareUnsigned(a.start(), b.start()));
        if (clipped.isEmpty()) {
            throw new IllegalArgumentException("no usable IOVA range below 2^" + dmaBits + " in " + ranges);
        }
        this.ranges = List.copyOf(clipped);
        this.pageSize = pageSize;
    }

    /**
     * An allocator for a container's IOMMU ({@code container.iommuInfo()}): its IOVA ranges and smallest page size
     * (the host's, {@link DmaBuffer#pageSize()}, when the kernel reports none), under a DMA mask of {@code dmaBits}.
     */
    public static IovaAllocator forIommu(IommuInfo info, int dmaBits) {
        return forIommu(info, dmaBits, DmaBuffer.pageSize());
    }

    /** {@link #forIommu(IommuInfo, int)} with the page size to assume when the IOMMU reports none. */
    public static IovaAllocator forIommu(IommuInfo info, int dmaBits, long hostPageSize) {
        return new IovaAllocator(info.iovaRanges(), info.minPageSize(hostPageSize), dmaBits);
    }

    public List<IovaRange> ranges() {
        return ranges;
    }

    public long pageSize() {
        return pageSize;
    }

    /**
     * Reserves {@code size} bytes (rounded up to pages) at the lowest free address aligned to {@code alignment}
     * (a power of two at least the page size, or 0 for the page size), never below the second page: IOVA 0 is not
     * handed out.
     *
     * @throws IllegalStateException when no usable range has room, naming the ranges
     */
    public synchronized long allocate(long size, long alignment) {
        long len = roundUp(size);
        long align = alignment == 0 ? pageSize : alignment;
        if (Long.bitCount(align) != 1 || align < pageSize) {
            throw new IllegalArgumentException("alignment must be a power of two >= the IOMMU page size " + pageSize
                    + ", got " + alignment);
        }
        for (IovaRange r : ranges) {
            // Page 0 is never handed out: many devices treat address 0 as "not set".
            long start = Long.compareUnsigned(r.start(), pageSize) < 0 ? pageSize : r.start();
            long candidate = alignUp(start, align);
            while (candidate != 0) { // 0 only after wrapping past the top of the address space
                if (!r.contains(candidate, len)) {
                    break;
                }
                Map.Entry<Long, Long> clash = firstOverlap(candidate, len);
                if (clash == null) {
                    allocated.put(candidate, len);
                    return candidate;
                }
                long next = alignUp(clash.getKey() + clash.getValue(), align);
                if (Long.compareUnsigned(next, candidate) <= 0) {
                    break; // wrapped around the top of the address space
                }
                candidate = next;
            }
        }
        throw new IllegalStateException(String.format("no room for 0x%x bytes (alignment 0x%x) in IOVA ranges %s"
                + " with %d allocations", len, align, ranges, allocated.size()));
    }

    /**
     * Reserves exactly {@code [iova, iova + size)}.
     *
     * @throws IllegalArgumentException when it is misaligned, outside the usable ranges or overlaps an allocation
     */
    public synchronized void reserve(long iova, long size) {
        long len = roundUp(size);
        if ((iova & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException(String.format("IOVA 0x%x is not aligned to the IOMMU page size 0x%x",
                    iova, pageSize));
        }
        if (ranges.stream().noneMatch(r -> r.contains(iova, len))) {
            throw new IllegalArgumentException(String.format("IOVA [0x%x, +0x%x) is outside the usable ranges %s",
                    iova, len, ranges));
        }
        Map.Entry<Long, Long> clash = firstOverlap(iova, len);
        if (clash != null) {
            throw new IllegalArgumentException(String.format("IOVA [0x%x, +0x%x) overlaps the allocation [0x%x, +0x%x)",
                    iova, len, clash.getKey(), clash.getValue()));
        }
        allocated.put(iova, len);
    }

    /** Releases the allocation starting at {@code iova}; throws when there is none. */
    public synchronized void free(long iova) {
        if (allocated.remove(iova) == null) {
            throw new IllegalArgumentException(String.format("IOVA 0x%x is not the start of an allocation", iova));
        }
    }

    /** Whether {@code [iova, iova + size)} overlaps any allocation. */
    public synchronized boolean overlaps(long iova, long size) {
        return firstOverlap(iova, roundUp(size)) != null;
    }

    public synchronized int allocations() {
        return allocated.size();
    }

    private Map.Entry<Long, Long> firstOverlap(long iova, long len) {
        long last = iova + len - 1;
        Map.Entry<Long, Long> below = allocated.floorEntry(iova);
        if (below != null && Long.compareUnsigned(below.getKey() + below.getValue() - 1, iova) >= 0) {
            return below;
        }
        Map.Entry<Long, Long> above = allocated.higherEntry(iova);
        if (above != null && Long.compareUnsigned(above.getKey(), last) <= 0) {
            return above;
        }
        return null;
    }

    private long roundUp(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("size must be positive, got " + size);
        }
        return (size + pageSize - 1) & -pageSize;
    }

    private static long alignUp(long v, long align) {
        return (v + align - 1) & -align;
    }
}
