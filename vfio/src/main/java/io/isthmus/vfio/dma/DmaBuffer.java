package io.isthmus.vfio.dma;

import io.isthmus.sys.Libc;
import io.isthmus.sys.Mmap;
import io.isthmus.sys.NativeException;
import io.isthmus.vfio.DmaMapping;
import io.isthmus.vfio.IommuInfo;
import io.isthmus.vfio.VfioContainer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Host memory for device DMA: anonymous pages (optionally huge pages), populated up front. The kernel pins them
 * when they are mapped into an IOMMU ({@link #mapTo}), so they cannot move or be swapped while a device uses them.
 * One buffer may hold several device structures (queues, rings, data), each page-aligned slice mapped at its own
 * IOVA ({@link #mapTo(VfioContainer, long, long, long)}).
 *
 * <p>Access it through {@link #memory()}: little-endian accessors whose names say their ordering (acquire loads
 * for what the device writes, plain or release stores for what it reads); see {@link DmaMemory}.
 *
 * <p>Lifetime: until {@link #close()}, which first unmaps every IOMMU mapping made through {@link #mapTo} (the
 * IOMMU must stop pointing at the pages before they are freed), then unmaps the memory. Closing it after the
 * container is fine (the natural order of {@code try (DmaBuffer b = ...; VfioContainer c = ...)}): the container's
 * close already dropped the mappings, and the buffer's close then only frees the memory. Thread-safe: the
 * segment is shared, any thread may touch it; mapping and closing are synchronized.
 */
public final class DmaBuffer implements AutoCloseable {
    /** x86-64's 2 MiB huge page. */
    public static final long HUGE_2M = 2L << 20;

    private final Arena arena;
    private final MemorySegment segment;
    private final boolean huge;
    private final List<DmaMapping> mappings = new ArrayList<>();

    private DmaBuffer(Arena arena, MemorySegment segment, boolean huge) {
        this.arena = arena;
        this.segment = segment;
        this.huge = huge;
    }

    /** {@code size} bytes (rounded up to the host page size) of zeroed anonymous memory. */
    public static DmaBuffer anonymous(long size) {
        return anonymous(size, Libc.pageSize());
    }

    /**
     * {@code size} bytes (rounded up to the host page size) of zeroed anonymous memory starting at a multiple of
     * {@code alignment} (a power of two). Aligning to 2 MiB lets transparent huge pages back the buffer, and the
     * IOMMU map it with 2 MiB pages; map/unmap cost depends on it, so benchmarks align both sides alike.
     */
    public static DmaBuffer anonymous(long size, long alignment) {
        long page = Libc.pageSize();
        if (Long.bitCount(alignment) != 1 || alignment < page) {
            throw new IllegalArgumentException("alignment must be a power of two >= the page size " + page + ", got "
                    + alignment);
        }
        long len = (size + page - 1) & -page;
        Arena arena = Arena.ofShared();
        try {
            // Over-allocate by the alignment and use the aligned part; the whole mapping goes when the arena closes.
            long extra = alignment > page ? alignment : 0;
            MemorySegment whole = Mmap.anonymous(arena, len + extra, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_PRIVATE | Libc.MAP_POPULATE, "DMA buffer");
            long skip = (alignment - (whole.address() & (alignment - 1))) & (alignment - 1);
            MemorySegment seg = whole.asSlice(skip, len);
            return new DmaBuffer(arena, seg, false);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * {@code size} bytes (rounded up to 2 MiB) of huge-page memory from the hugetlbfs pool.
     *
     * @throws IllegalStateException when the pool is empty, saying how to fill it
     */
    public static DmaBuffer hugePages(long size) {
        long len = (size + HUGE_2M - 1) & -HUGE_2M;
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg = Mmap.anonymous(arena, len, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_PRIVATE | Libc.MAP_POPULATE | Libc.MAP_HUGETLB, "huge-page DMA buffer");
            return new DmaBuffer(arena, seg, true);
        } catch (NativeException e) {
            arena.close();
            throw new IllegalStateException("no huge pages for a " + len + "-byte DMA buffer (" + e.getMessage()
                    + "); reserve some: echo " + (len / HUGE_2M) + " > /proc/sys/vm/nr_hugepages", e);
        }
    }

    /**
     * The host's page size in bytes (4096 on x86-64): DMA buffers start on it and are multiples of it, as
     * {@code VFIO_IOMMU_MAP_DMA} requires, and it is the page size {@link IovaAllocator#forIommu(IommuInfo, int)}
     * falls back to when the IOMMU reports none.
     */
    public static long pageSize() {
        return Libc.pageSize();
    }

    /** The memory; valid until {@link #close()}. Prefer {@link #memory()} for anything a device touches. */
    public MemorySegment segment() {
        return segment;
    }

    /** The whole buffer with DMA accessors (little-endian, ordering in the names); valid until {@link #close()}. */
    public DmaMemory memory() {
        return DmaMemory.of(segment);
    }

    public long size() {
        return segment.byteSize();
    }

    public boolean huge() {
        return huge;
    }

    /** Maps the whole buffer at {@code iova} in {@code container}'s IOMMU, read-write for the device. */
    public DmaMapping mapTo(VfioContainer container, long iova) {
        return mapTo(container, iova, 0, segment.byteSize());
    }

    /**
     * Maps {@code [offset, offset + size)} of this buffer at {@code iova} in {@code container}'s IOMMU, read-write
     * for the device: one buffer can hold several queues, each at its own IOVA. Like every mapping made here, it
     * is unmapped by this buffer's {@link #close()} (or earlier by its own); its {@link DmaMapping#memory()} is
     * the slice, offset 0 at {@code iova}.
     *
     * @throws IllegalArgumentException when {@code offset} or {@code size} is not a multiple of the page size, or
     *                                  the slice is empty or outside the buffer
     * @throws io.isthmus.vfio.VfioException {@code IommuDmaMap} when the kernel refuses (EEXIST: the IOVA range
     *                                  is already mapped)
     */
    public synchronized DmaMapping mapTo(VfioContainer container, long iova, long offset, long size) {
        long page = Libc.pageSize();
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException("this DMA buffer is closed");
        }
        if (offset < 0 || size <= 0 || offset > segment.byteSize() - size) {
            throw new IllegalArgumentException(String.format("slice [0x%x, +0x%x) is not inside this 0x%x-byte DMA"
                    + " buffer", offset, size, segment.byteSize()));
        }
        if ((offset | size) % page != 0) {
            throw new IllegalArgumentException(String.format("slice [0x%x, +0x%x) is not page-aligned: the IOMMU maps"
                    + " whole pages, so offset and size must be multiples of the page size 0x%x", offset, size, page));
        }
        // Mappings closed by their own close() or dropped with their container need no tracking.
        mappings.removeIf(m -> !m.mapped());
        DmaMapping m = container.map(segment.asSlice(offset, size), iova, true, true);
        mappings.add(m);
        return m;
    }

    /**
     * Unmaps the IOMMU mappings made through {@link #mapTo} that are still mapped (none when their container is
     * already closed), then frees the memory. Idempotent.
     */
    @Override
    public synchronized void close() {
        RuntimeException first = null;
        for (DmaMapping m : mappings) {
            try {
                m.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        mappings.clear();
        if (arena.scope().isAlive()) {
            arena.close();
        }
        if (first != null) {
            throw first;
        }
    }
}
