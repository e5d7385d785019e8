package io.isthmus.vfio;

import io.isthmus.vfio.dma.DmaMemory;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A live IOMMU mapping of host memory at an IOVA, made by {@link VfioContainer#map} (or {@code DmaBuffer.mapTo}).
 *
 * <p>Lifetime: until {@link #close()}, which unmaps it once, or until its container closes (or loses its last
 * group), which drops it in the kernel; closing it after that is allowed and does nothing. The host memory must
 * outlive the mapping: close this, or the container, before freeing it.
 *
 * <p>While the device may write the memory, touch it only through {@link #memory()} (or {@code Mmio}-style
 * volatile access): the device writes behind the JIT's back. Thread-safe.
 */
public final class DmaMapping implements AutoCloseable {
    private final VfioContainer container;
    private final MemorySegment host;
    private final long iova;
    private final int generation;
    private final AtomicBoolean closed = new AtomicBoolean();

    DmaMapping(VfioContainer container, MemorySegment host, long iova, int generation) {
        this.container = container;
        this.host = host;
        this.iova = iova;
        this.generation = generation;
    }

    /** The I/O virtual address the device uses. */
    public long iova() {
        return iova;
    }

    /** The mapped host memory. */
    public MemorySegment host() {
        return host;
    }

    /**
     * The mapped host memory with typed, little-endian accessors whose names say their ordering
     * ({@link DmaMemory#getIntAcquire}, {@link DmaMemory#putLongRelease}, ...): offset 0 is {@link #iova()}.
     */
    public DmaMemory memory() {
        return DmaMemory.of(host);
    }

    /** Bytes mapped. */
    public long size() {
        return host.byteSize();
    }

    /** The container that made this mapping. */
    public VfioContainer container() {
        return container;
    }

    int generation() {
        return generation;
    }

    /**
     * Whether the IOMMU still maps this: false once it is closed, its container is closed or the container lost its
     * last group (the kernel dropped the mapping then).
     */
    public boolean mapped() {
        return !closed.get() && container.mapped(this);
    }

    /**
     * Unmaps it ({@code VFIO_IOMMU_UNMAP_DMA}) unless the kernel already dropped it with the container; idempotent.
     *
     * @throws VfioException {@code IommuDmaUnmap} when the kernel refuses the unmap
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            container.release(this);
        }
    }

    @Override
    public String toString() {
        return String.format("DmaMapping[iova 0x%x size 0x%x -> %s]", iova, host.byteSize(), host);
    }
}
