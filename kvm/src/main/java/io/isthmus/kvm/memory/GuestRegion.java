package io.isthmus.kvm.memory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLongArray;

import io.isthmus.sys.Fd;

/**
 * One contiguous range of guest RAM: guest-physical {@code [start, start + size)} backed by host memory
 * {@link #host()} of exactly {@code size} bytes, anonymous or from a memfd.
 *
 * <p>Lifetime: that of the {@link GuestMemory} that made it; its host segment becomes inaccessible when the
 * memory closes, so a stale region can never reach unmapped host memory. Thread-safe: the segment is from a
 * shared arena, and the host-side dirty bitmap is atomic. Guest RAM may be written by the guest at any time,
 * so reads of memory a running guest shares with a device are racy by nature, as on real hardware.
 */
public final class GuestRegion {
    private final long start;
    private final long size;
    private final MemorySegment host;
    private final Fd backing;
    private final boolean hugePages;
    private volatile AtomicLongArray dirty;
    private GuestMemory owner; // set once, by the GuestMemory made of this region

    GuestRegion(long start, long size, MemorySegment host, Fd backing, boolean hugePages) {
        this.start = start;
        this.size = size;
        this.host = host;
        this.backing = backing;
        this.hugePages = hugePages;
    }

    /** The memory this region belongs to. */
    public GuestMemory owner() {
        return owner;
    }

    void owner(GuestMemory memory) {
        this.owner = memory;
    }

    /** The first guest-physical address. */
    public long start() {
        return start;
    }

    /** The size in bytes, a multiple of the page size. */
    public long size() {
        return size;
    }

    /** One past the last guest-physical address. */
    public long end() {
        return start + size;
    }

    /** Whether guest-physical {@code address} lies in this region. */
    public boolean contains(long address) {
        return Long.compareUnsigned(address - start, size) < 0;
    }

    /** The host mapping: exactly {@link #size()} bytes, so no access through it can leave the region. */
    public MemorySegment host() {
        return host;
    }

    /** The memfd behind this region, or {@code null} when it is anonymous memory. */
    public Fd backingFd() {
        return backing;
    }

    /** Whether huge pages were asked for (hugetlb when reserved, else transparent huge pages as a hint). */
    public boolean hugePages() {
        return hugePages;
    }

    void enableDirtyTracking(long pageSize) {
        if (dirty == null) {
            dirty = new AtomicLongArray((int) ((size / pageSize + 63) / 64));
        }
    }

    void markDirty(long offset, long length, int pageShift) {
        AtomicLongArray bits = dirty;
        if (bits == null || length == 0) {
            return;
        }
        long first = offset >>> pageShift, last = (offset + length - 1) >>> pageShift;
        for (long p = first; p <= last; p++) {
            int word = (int) (p >>> 6);
            long bit = 1L << (p & 63);
            if ((bits.get(word) & bit) == 0) {
                bits.getAndAccumulate(word, bit, GuestRegion::or); // non-capturing: no allocation
            }
        }
    }

    private static long or(long a, long b) {
        return a | b;
    }

    long[] takeDirty() {
        AtomicLongArray bits = dirty;
        if (bits == null) {
            return new long[0];
        }
        long[] out = new long[bits.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = bits.getAndSet(i, 0);
        }
        return out;
    }

    @Override
    public String toString() {
        return "[0x" + Long.toHexString(start) + "-0x" + Long.toHexString(start + size) + ")";
    }
}
