package io.isthmus.vfio;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A live IOMMU mapping of host memory at an IOVA, made by {@link VfioContainer#map}. {@link #close()} unmaps it
 * once. The host memory must outlive the mapping: close this before freeing it.
 *
 * <p>While the device may write the memory, read it with volatile or acquire accesses: the device writes behind
 * the JIT's back. Thread-safe.
 */
public final class DmaMapping implements AutoCloseable {
    private final VfioContainer container;
    private final MemorySegment host;
    private final long iova;
    private final AtomicBoolean closed = new AtomicBoolean();

    DmaMapping(VfioContainer container, MemorySegment host, long iova) {
        this.container = container;
        this.host = host;
        this.iova = iova;
    }

    /** The I/O virtual address the device uses. */
    public long iova() {
        return iova;
    }

    /** The mapped host memory. */
    public MemorySegment host() {
        return host;
    }

    public long size() {
        return host.byteSize();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            container.unmap(iova, host.byteSize());
        }
    }

    @Override
    public String toString() {
        return String.format("DmaMapping[iova 0x%x size 0x%x -> %s]", iova, host.byteSize(), host);
    }
}
