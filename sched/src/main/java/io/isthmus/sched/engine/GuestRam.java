package io.isthmus.sched.engine;

import io.isthmus.sched.ConfigurationException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The host memory a vGPU copies from and to: a guest's RAM regions (or a host tenant's buffer), each a
 * {@link MemorySegment} at a guest-physical base address. Engines get the segments themselves, never copies: the host
 * engine copies straight out of them and the CUDA engine registers them with the driver for DMA.
 *
 * <p>Every guest range is looked up here ({@link #find}), so an address or length that leaves the RAM, wraps around,
 * or straddles two regions is refused before any memory is touched. Immutable; thread-safe. The segments must stay
 * alive as long as the contexts that use them (the VMM's guest memory outlives its devices).
 */
public final class GuestRam {
    private final long[] base, size;
    private final MemorySegment[] segments;

    private GuestRam(List<Long> bases, List<MemorySegment> segs) {
        int n = segs.size();
        base = new long[n];
        size = new long[n];
        segments = segs.toArray(new MemorySegment[0]);
        for (int i = 0; i < n; i++) {
            base[i] = bases.get(i);
            size[i] = segments[i].byteSize();
        }
    }

    /** @return one region at guest address 0: a host tenant's buffer */
    public static GuestRam of(MemorySegment ram) {
        return builder().region(0, ram).build();
    }

    /** @return a builder for a guest's regions */
    public static Builder builder() {
        return new Builder();
    }

    /** Collects regions; {@link #build()} refuses overlapping ones. Not thread-safe. */
    public static final class Builder {
        private final List<Long> bases = new ArrayList<>();
        private final List<MemorySegment> segs = new ArrayList<>();

        /** Adds {@code segment} at guest-physical {@code guestBase}; @return this */
        public Builder region(long guestBase, MemorySegment segment) {
            if (guestBase < 0 || segment.byteSize() == 0 || guestBase + segment.byteSize() < guestBase) {
                throw new ConfigurationException("guest RAM region at 0x" + Long.toHexString(guestBase) + " of "
                        + segment.byteSize() + " bytes is empty or wraps around the address space");
            }
            for (int i = 0; i < segs.size(); i++) {
                long b = bases.get(i), e = b + segs.get(i).byteSize();
                if (guestBase < e && b < guestBase + segment.byteSize()) {
                    throw new ConfigurationException("guest RAM region at 0x" + Long.toHexString(guestBase)
                            + " overlaps the one at 0x" + Long.toHexString(b));
                }
            }
            bases.add(guestBase);
            segs.add(segment);
            return this;
        }

        /** @return the regions */
        public GuestRam build() {
            return new GuestRam(bases, segs);
        }
    }

    /**
     * The region holding all of {@code [address, address + length)}. Allocates nothing; never throws.
     *
     * @return the region's index, or -1 when the range is not wholly inside one region (or the length is negative)
     */
    public int find(long address, long length) {
        if (length < 0) {
            return -1;
        }
        for (int i = 0; i < base.length; i++) {
            long off = address - base[i];
            // Unsigned compares: an address below the base wraps to a huge offset and fails like one past the end.
            if (Long.compareUnsigned(off, size[i]) <= 0 && Long.compareUnsigned(length, size[i] - off) <= 0) {
                return i;
            }
        }
        return -1;
    }

    /** @return regions */
    public int regions() {
        return segments.length;
    }

    /** @return region {@code i}'s guest-physical base */
    public long base(int i) {
        return base[i];
    }

    /** @return region {@code i}'s memory */
    public MemorySegment segment(int i) {
        return segments[i];
    }
}
