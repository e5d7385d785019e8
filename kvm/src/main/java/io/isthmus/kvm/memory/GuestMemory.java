package io.isthmus.kvm.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import io.isthmus.sys.Fd;
import io.isthmus.sys.Libc;
import io.isthmus.sys.Mmap;

/**
 * Guest-physical RAM: a set of non-overlapping {@link GuestRegion}s, each a host mapping, with bounds-checked
 * little-endian reads and writes by guest-physical address.
 *
 * <p>Every access is resolved to one region and then made through that region's host segment, which is sized to
 * the mapping: an address outside RAM throws {@link GuestMemoryException}, and no address can reach host memory
 * outside the mappings. Bulk accesses may span regions that are contiguous in guest-physical space.
 *
 * <p>Host-side dirty tracking ({@link #enableDirtyTracking()}) records the pages written through this object
 * (device emulation, loaders); pages the guest itself writes are reported by KVM's dirty log
 * ({@code Vm.dirtyLog}). Together they are everything that changed.
 *
 * <p>Lifetime: from {@link #builder()}{@code .build()} to {@link #close()}, which unmaps every region and closes
 * memfds once. Close the {@code Vm}s using it first: KVM keeps the host addresses of its memory slots and would go
 * on writing into whatever the JVM maps there next, so {@link #close()} refuses while a VM still maps it (a VM
 * records itself with {@link #mappedBy} and removes itself with {@link #unmappedBy}). Thread-safe:
 * regions are fixed at build time and mapped in a shared arena; single accesses of up to 8 bytes at natural
 * alignment are single host loads and stores.
 */
public final class GuestMemory implements AutoCloseable {
    private static final int PAGE_SHIFT = Long.numberOfTrailingZeros(Libc.pageSize());

    private final Arena arena;
    private final GuestRegion[] regions;
    private final List<GuestRegion> regionList;
    private volatile boolean closed;
    /** The VMs that map this memory, guarded by this. */
    private final java.util.Set<Object> users = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    private GuestMemory(Arena arena, GuestRegion[] regions) {
        this.arena = arena;
        this.regions = regions;
        this.regionList = List.of(regions);
        for (GuestRegion r : regions) {
            r.owner(this);
        }
    }

    /**
     * Records that {@code vm} maps this memory (a VM calls it when it registers a region as a memory slot), so that
     * {@link #close()} refuses until the VM lets go.
     *
     * @throws IllegalStateException when this memory is closed
     */
    public synchronized void mappedBy(Object vm) {
        if (closed) {
            throw new IllegalStateException(this + " is closed: it cannot be mapped into " + vm);
        }
        users.add(vm);
    }

    /** Undoes {@link #mappedBy} ({@code vm} closed, or deleted the slots); a no-op for a VM that did not map it. */
    public synchronized void unmappedBy(Object vm) {
        users.remove(vm);
    }

    /** A builder of guest memory; add one or more regions, then {@link Builder#build()}. */
    public static Builder builder() {
        return new Builder();
    }

    /** One anonymous region of {@code size} bytes at guest-physical 0: the common case in tests and small VMs. */
    public static GuestMemory anonymous(long size) {
        return builder().region(0, size).build();
    }

    /** The regions, in ascending guest-physical order. */
    public List<GuestRegion> regions() {
        return regionList;
    }

    /** The total RAM in bytes. */
    public long totalSize() {
        long total = 0;
        for (GuestRegion r : regions) {
            total += r.size();
        }
        return total;
    }

    /** The region holding {@code address}, or {@code null}. */
    public GuestRegion regionOf(long address) {
        for (GuestRegion r : regions) {
            if (r.contains(address)) {
                return r;
            }
        }
        return null;
    }

    /** Whether all of {@code [address, address + length)} is RAM, in one region or several contiguous ones. */
    public boolean isRam(long address, long length) {
        long a = address, left = length;
        while (left > 0) {
            GuestRegion r = regionOf(a);
            if (r == null) {
                return false;
            }
            long n = Math.min(left, r.end() - a);
            a += n;
            left -= n;
        }
        return true;
    }

    private GuestRegion region(long address, long length) {
        // Small, fixed region count: a linear scan beats anything cleverer and allocates nothing.
        for (GuestRegion r : regions) {
            if (r.contains(address) && Long.compareUnsigned(length, r.end() - address) <= 0) {
                return r;
            }
        }
        throw outside(address, length);
    }

    private GuestMemoryException outside(long address, long length) {
        return new GuestMemoryException(address, length,
                regionList.stream().map(GuestRegion::toString).collect(Collectors.joining(", ")));
    }

    /**
     * A view of {@code [address, address + length)}, which must lie in one region; valid until close. Writes
     * through the view are not dirty-tracked.
     */
    public MemorySegment slice(long address, long length) {
        GuestRegion r = region(address, length);
        return r.host().asSlice(address - r.start(), length);
    }

    public byte readByte(long address) {
        GuestRegion r = region(address, 1);
        return r.host().get(JAVA_BYTE, address - r.start());
    }

    public short readShort(long address) {
        GuestRegion r = region(address, 2);
        return r.host().get(JAVA_SHORT_UNALIGNED, address - r.start());
    }

    public int readInt(long address) {
        GuestRegion r = region(address, 4);
        return r.host().get(JAVA_INT_UNALIGNED, address - r.start());
    }

    public long readLong(long address) {
        GuestRegion r = region(address, 8);
        return r.host().get(JAVA_LONG_UNALIGNED, address - r.start());
    }

    /** Reads {@code size} (1, 2, 4 or 8) bytes at {@code address}, zero-extended. */
    public long read(long address, int size) {
        return switch (size) {
            case 1 -> readByte(address) & 0xFFL;
            case 2 -> readShort(address) & 0xFFFFL;
            case 4 -> readInt(address) & 0xFFFF_FFFFL;
            case 8 -> readLong(address);
            default -> throw new IllegalArgumentException("access size must be 1, 2, 4 or 8, got " + size);
        };
    }

    public void writeByte(long address, byte value) {
        GuestRegion r = region(address, 1);
        r.host().set(JAVA_BYTE, address - r.start(), value);
        r.markDirty(address - r.start(), 1, PAGE_SHIFT);
    }

    public void writeShort(long address, short value) {
        GuestRegion r = region(address, 2);
        r.host().set(JAVA_SHORT_UNALIGNED, address - r.start(), value);
        r.markDirty(address - r.start(), 2, PAGE_SHIFT);
    }

    public void writeInt(long address, int value) {
        GuestRegion r = region(address, 4);
        r.host().set(JAVA_INT_UNALIGNED, address - r.start(), value);
        r.markDirty(address - r.start(), 4, PAGE_SHIFT);
    }

    public void writeLong(long address, long value) {
        GuestRegion r = region(address, 8);
        r.host().set(JAVA_LONG_UNALIGNED, address - r.start(), value);
        r.markDirty(address - r.start(), 8, PAGE_SHIFT);
    }

    /** Writes the low {@code size} (1, 2, 4 or 8) bytes of {@code value} at {@code address}. */
    public void write(long address, int size, long value) {
        switch (size) {
            case 1 -> writeByte(address, (byte) value);
            case 2 -> writeShort(address, (short) value);
            case 4 -> writeInt(address, (int) value);
            case 8 -> writeLong(address, value);
            default -> throw new IllegalArgumentException("access size must be 1, 2, 4 or 8, got " + size);
        }
    }

    /** Copies {@code src} into guest memory at {@code address}; checks the whole range before writing anything. */
    public void write(long address, byte[] src) {
        write(address, MemorySegment.ofArray(src));
    }

    /** Copies all of {@code src} into guest memory at {@code address}; checks the whole range first. */
    public void write(long address, MemorySegment src) {
        long length = src.byteSize();
        if (!isRam(address, length)) {
            throw outside(address, length);
        }
        long a = address, done = 0;
        while (done < length) {
            GuestRegion r = region(a, 1);
            long n = Math.min(length - done, r.end() - a);
            MemorySegment.copy(src, done, r.host(), a - r.start(), n);
            r.markDirty(a - r.start(), n, PAGE_SHIFT);
            a += n;
            done += n;
        }
    }

    /** Reads {@code length} bytes at {@code address} into a new array. */
    public byte[] readBytes(long address, int length) {
        byte[] out = new byte[length];
        read(address, MemorySegment.ofArray(out));
        return out;
    }

    /** Fills all of {@code dst} from guest memory at {@code address}; checks the whole range first. */
    public void read(long address, MemorySegment dst) {
        long length = dst.byteSize();
        if (!isRam(address, length)) {
            throw outside(address, length);
        }
        long a = address, done = 0;
        while (done < length) {
            GuestRegion r = region(a, 1);
            long n = Math.min(length - done, r.end() - a);
            MemorySegment.copy(r.host(), a - r.start(), dst, done, n);
            a += n;
            done += n;
        }
    }

    /** Starts recording the pages written through this object; see {@link #takeDirtyPages(GuestRegion)}. */
    public void enableDirtyTracking() {
        for (GuestRegion r : regions) {
            r.enableDirtyTracking(1L << PAGE_SHIFT);
        }
    }

    /**
     * The pages of {@code region} written through this object since the last call (bit {@code i} = page
     * {@code i} of the region), clearing them. Empty when tracking is off.
     */
    public BitSet takeDirtyPages(GuestRegion region) {
        return BitSet.valueOf(region.takeDirty());
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Unmaps every region and closes their memfds, once.
     *
     * @throws IllegalStateException while a VM still maps this memory (close the VM first)
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        if (!users.isEmpty()) {
            throw new IllegalStateException(this + " is still mapped by " + users + ": close the VM first, or KVM"
                    + " would go on writing into memory the JVM maps there next");
        }
        closed = true;
        arena.close();
        for (GuestRegion r : regions) {
            if (r.backingFd() != null) {
                r.backingFd().close();
            }
        }
    }

    @Override
    public String toString() {
        return "GuestMemory" + regionList;
    }

    /**
     * Builds {@link GuestMemory}: regions in any order, page-aligned, non-overlapping. Not thread-safe; use once.
     */
    public static final class Builder {
        private record Spec(long start, long size, boolean memfd, boolean hugePages) {}

        private final List<Spec> specs = new ArrayList<>();
        private boolean memfd;
        private boolean hugePages;

        private Builder() {}

        /** Back the following regions with a memfd (shareable, e.g. with vhost-user), instead of anonymous memory. */
        public Builder memfd(boolean memfd) {
            this.memfd = memfd;
            return this;
        }

        /**
         * Back the following regions with huge pages (start and size must then be 2 MiB-aligned): hugetlb pages
         * ({@code MAP_HUGETLB} / {@code MFD_HUGETLB}) when the host has them reserved, else ordinary pages with
         * {@code madvise(MADV_HUGEPAGE)} so transparent huge pages can back them.
         */
        public Builder hugePages(boolean hugePages) {
            this.hugePages = hugePages;
            return this;
        }

        /** Adds {@code size} bytes of RAM at guest-physical {@code start}. */
        public Builder region(long start, long size) {
            specs.add(new Spec(start, size, memfd, hugePages));
            return this;
        }

        /** Adds {@code size} bytes of RAM at {@code start}. */
        public Builder region(GuestAddress start, long size) {
            return region(start.value(), size);
        }

        /** Maps the regions; throws {@link IllegalArgumentException} for bad layouts before mapping anything. */
        public GuestMemory build() {
            if (specs.isEmpty()) {
                throw new IllegalArgumentException("guest memory needs at least one region");
            }
            long page = Libc.pageSize();
            List<Spec> sorted = new ArrayList<>(specs);
            sorted.sort(Comparator.comparing(Spec::start, Long::compareUnsigned));
            for (int i = 0; i < sorted.size(); i++) {
                Spec s = sorted.get(i);
                long align = s.hugePages ? 2L << 20 : page;
                if (s.size <= 0 || s.size % align != 0 || s.start % align != 0) {
                    throw new IllegalArgumentException(String.format(
                            "guest RAM region at 0x%x of %d bytes: start and size must be positive multiples of %d",
                            s.start, s.size, align));
                }
                if (Long.compareUnsigned(s.start + s.size, s.start) < 0 && s.start + s.size != 0) {
                    throw new IllegalArgumentException(String.format("guest RAM region at 0x%x of %d bytes wraps",
                            s.start, s.size));
                }
                if (i > 0) {
                    Spec p = sorted.get(i - 1);
                    if (Long.compareUnsigned(p.start + p.size, s.start) > 0) {
                        throw new IllegalArgumentException(String.format(
                                "guest RAM regions [0x%x-0x%x) and [0x%x-0x%x) overlap", p.start, p.start + p.size,
                                s.start, s.start + s.size));
                    }
                }
            }
            Arena arena = Arena.ofShared();
            List<Fd> fds = new ArrayList<>();
            try {
                GuestRegion[] regions = new GuestRegion[sorted.size()];
                for (int i = 0; i < regions.length; i++) {
                    Spec s = sorted.get(i);
                    regions[i] = map(arena, s, fds);
                }
                return new GuestMemory(arena, regions);
            } catch (RuntimeException e) {
                arena.close();
                fds.forEach(Fd::close);
                throw e;
            }
        }

        private static GuestRegion map(Arena arena, Spec s, List<Fd> fds) {
            int prot = Libc.PROT_READ | Libc.PROT_WRITE;
            String what = String.format("guest RAM at 0x%x", s.start);
            if (s.memfd) {
                if (s.hugePages) {
                    try {
                        return mapMemfd(arena, s, fds, true, what);
                    } catch (io.isthmus.sys.NativeException e) {
                        // No hugetlb pages reserved: an ordinary memfd, with transparent huge pages if shmem has them.
                        GuestRegion r = mapMemfd(arena, s, fds, false, what);
                        Libc.madvise(r.host(), Libc.MADV_HUGEPAGE);
                        return r;
                    }
                }
                return mapMemfd(arena, s, fds, false, what);
            }
            MemorySegment m;
            if (s.hugePages) {
                try {
                    // No MAP_NORESERVE: without reserved pages mmap must fail now, not SIGBUS on first touch.
                    m = Mmap.anonymous(arena, s.size, prot, Libc.MAP_PRIVATE | Libc.MAP_HUGETLB, what);
                } catch (io.isthmus.sys.NativeException e) {
                    // No reserved hugetlb pages: fall back to transparent huge pages, which need no reservation.
                    m = Mmap.anonymous(arena, s.size, prot, Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, what);
                    Libc.madvise(m, Libc.MADV_HUGEPAGE);
                }
            } else {
                m = Mmap.anonymous(arena, s.size, prot, Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, what);
            }
            return new GuestRegion(s.start, s.size, m, null, s.hugePages);
        }

        private static GuestRegion mapMemfd(Arena arena, Spec s, List<Fd> fds, boolean hugetlb, String what) {
            Fd fd = Fd.adopt(Libc.memfdCreate("isthmus-guest-ram", Libc.MFD_CLOEXEC | (hugetlb ? Libc.MFD_HUGETLB : 0)),
                    "memfd " + what);
            try {
                Libc.ftruncate(fd.get(), s.size, fd.name());
                // hugetlb: no MAP_NORESERVE, so a missing reservation fails here rather than with SIGBUS later.
                MemorySegment m = Mmap.map(arena, fd, 0, s.size, Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_SHARED | (hugetlb ? 0 : Libc.MAP_NORESERVE), what);
                fds.add(fd);
                return new GuestRegion(s.start, s.size, m, fd, s.hugePages);
            } catch (RuntimeException e) {
                fd.close();
                throw e;
            }
        }
    }
}
