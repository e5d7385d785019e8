package io.isthmus.sched.vgpu;

/**
 * A first-fit allocator of one vGPU's device memory, {@code [0, capacity)}, in {@link #ALIGN}-byte units: the memory
 * quota is the heap's size, so no allocation can take more. Free space is a sorted array of extents, merged with
 * their neighbours on free; nothing is allocated after construction. Fragmentation can refuse an allocation that the
 * total free space would hold (as a GPU's allocator can): a guest sees OUT_OF_MEMORY either way.
 *
 * <p>Lifetime: its context's. Thread-safety: none; the scheduler's thread only.
 */
final class DeviceHeap {
    /** Allocation granularity and alignment, bytes (CUDA's allocations are 256-byte aligned too). */
    static final long ALIGN = 256;

    private final long capacity;
    private final long[] start, length;
    private int extents;
    private long used;

    /** @param capacity bytes; @param maxAllocations the most live allocations (bounds the extents) */
    DeviceHeap(long capacity, int maxAllocations) {
        this.capacity = capacity;
        start = new long[maxAllocations + 1];
        length = new long[maxAllocations + 1];
        start[0] = 0;
        length[0] = capacity;
        extents = 1;
    }

    /** @return {@code bytes} rounded up to {@link #ALIGN}, or -1 when that overflows */
    static long rounded(long bytes) {
        long r = (bytes + ALIGN - 1) & -ALIGN;
        return r < bytes ? -1 : r;
    }

    /** @return the offset of {@code bytes} (positive, already {@link #rounded}) of free memory, or -1 */
    long allocate(long bytes) {
        for (int i = 0; i < extents; i++) {
            if (length[i] >= bytes) {
                long off = start[i];
                start[i] += bytes;
                length[i] -= bytes;
                if (length[i] == 0) {
                    System.arraycopy(start, i + 1, start, i, extents - i - 1);
                    System.arraycopy(length, i + 1, length, i, extents - i - 1);
                    extents--;
                }
                used += bytes;
                return off;
            }
        }
        return -1;
    }

    /** Returns {@code [off, off + bytes)}, which {@link #allocate} gave out. */
    void free(long off, long bytes) {
        int i = 0;
        while (i < extents && start[i] < off) {
            i++;
        }
        boolean mergePrev = i > 0 && start[i - 1] + length[i - 1] == off;
        boolean mergeNext = i < extents && off + bytes == start[i];
        if (mergePrev && mergeNext) {
            length[i - 1] += bytes + length[i];
            System.arraycopy(start, i + 1, start, i, extents - i - 1);
            System.arraycopy(length, i + 1, length, i, extents - i - 1);
            extents--;
        } else if (mergePrev) {
            length[i - 1] += bytes;
        } else if (mergeNext) {
            start[i] = off;
            length[i] += bytes;
        } else {
            System.arraycopy(start, i, start, i + 1, extents - i);
            System.arraycopy(length, i, length, i + 1, extents - i);
            start[i] = off;
            length[i] = bytes;
            extents++;
        }
        used -= bytes;
    }

    /** @return bytes allocated */
    long used() {
        return used;
    }

    /** @return the heap's size, bytes */
    long capacity() {
        return capacity;
    }

    /** @return free extents (1 when nothing is fragmented) */
    int extents() {
        return extents;
    }
}
