package io.isthmus.vfio;

/**
 * An inclusive range of I/O virtual addresses {@code [start, end]}, as the IOMMU reports usable ones
 * ({@code struct vfio_iova_range}). Immutable.
 */
public record IovaRange(long start, long end) {
    public IovaRange {
        if (Long.compareUnsigned(start, end) > 0) {
            throw new IllegalArgumentException(String.format("IOVA range start 0x%x is above its end 0x%x", start, end));
        }
    }

    /** Whether {@code [iova, iova + size)} lies inside this range ({@code size > 0}). */
    public boolean contains(long iova, long size) {
        long last = iova + size - 1;
        return size > 0 && Long.compareUnsigned(last, iova) >= 0 && Long.compareUnsigned(iova, start) >= 0
                && Long.compareUnsigned(last, end) <= 0;
    }

    @Override
    public String toString() {
        return String.format("[0x%x-0x%x]", start, end);
    }
}
