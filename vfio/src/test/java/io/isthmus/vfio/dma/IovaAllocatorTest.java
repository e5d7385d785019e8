package io.isthmus.vfio.dma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.IovaRange;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IovaAllocatorTest {
    /** x86 with VT-d: everything but the MSI window 0xfee00000-0xfeefffff, 48-bit. */
    private static final List<IovaRange> X86 = List.of(new IovaRange(0, 0xfedfffffL),
            new IovaRange(0xfef00000L, 0xffffffffffffL));

    @Test
    void firstFitFromTheBottomPageAligned() {
        IovaAllocator a = new IovaAllocator(X86, 4096, 64);
        assertEquals(0x1000, a.allocate(1, 0));
        assertEquals(0x2000, a.allocate(4096, 0));
        assertEquals(0x3000, a.allocate(0x1001, 0));
        assertEquals(0x5000, a.allocate(4096, 0));
        assertEquals(0x10000, a.allocate(4096, 0x10000), "alignment honoured");
        a.free(0x2000);
        assertEquals(0x2000, a.allocate(4096, 0), "freed space is reused");
    }

    @Test
    void iovaZeroIsNeverHandedOutButMayBeReserved() {
        IovaAllocator a = new IovaAllocator(X86, 4096, 64);
        assertEquals(0x1000, a.allocate(4096, 0), "the first page is skipped, as Linux's IOVA allocator does");
        IovaAllocator big = new IovaAllocator(X86, 0x200000, 64);
        assertEquals(0x200000, big.allocate(1, 0), "with 2 MiB IOMMU pages the first one is skipped");
        IovaAllocator aligned = new IovaAllocator(X86, 4096, 64);
        assertEquals(0x100000, aligned.allocate(4096, 0x100000), "an alignment never rounds down to 0");
        IovaAllocator explicit = new IovaAllocator(X86, 4096, 64);
        explicit.reserve(0, 4096);
        assertTrue(explicit.overlaps(0, 1), "reserve still takes page 0 when asked by address");
        IovaAllocator onePage = new IovaAllocator(List.of(new IovaRange(0, 0xfff)), 4096, 64);
        var e = assertThrows(IllegalStateException.class, () -> onePage.allocate(1, 0));
        assertTrue(e.getMessage().contains("no room"), e.getMessage());
        // An allocator whose range starts above 0 starts there.
        IovaAllocator high = new IovaAllocator(List.of(new IovaRange(0x8000, 0xffff)), 4096, 64);
        assertEquals(0x8000, high.allocate(1, 0));
    }

    @Test
    void dmaMaskClipsTheRanges() {
        // QEMU's edu: 28-bit DMA mask, so every IOVA must be below 0x10000000.
        IovaAllocator a = new IovaAllocator(X86, 4096, 28);
        assertEquals(List.of(new IovaRange(0, 0x0fffffffL)), a.ranges());
        a.reserve(0x1000, 0x0fe00000L);
        assertEquals(0x0fe01000L, a.allocate(0xff000, 0), "the rest of the window below the last MiB");
        long last = a.allocate(0x100000, 0);
        assertEquals(0x0ff00000L, last);
        var e = assertThrows(IllegalStateException.class, () -> a.allocate(4096, 0));
        assertTrue(e.getMessage().contains("no room"), e.getMessage());
    }

    @Test
    void allocationsSkipTheHoleBetweenRanges() {
        IovaAllocator a = new IovaAllocator(X86, 4096, 64);
        a.reserve(0x1000, 0xfecff000L);
        long big = a.allocate(0x200000, 0); // does not fit below the hole (1 MiB left)
        assertEquals(0xfef00000L, big);
        assertEquals(0xfed00000L, a.allocate(0x100000, 0), "but a 1 MiB one still fits below it");
    }

    @Test
    void overlapsAndBadReservationsAreRejectedWithTheReason() {
        IovaAllocator a = new IovaAllocator(X86, 4096, 64);
        a.reserve(0x100000, 0x10000);
        assertTrue(a.overlaps(0x10f000, 0x1000));
        assertFalse(a.overlaps(0x110000, 0x1000));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> a.reserve(0x108000, 0x10000)).getMessage()
                .contains("overlaps the allocation [0x100000, +0x10000)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> a.reserve(0xfee00000L, 0x1000)).getMessage()
                .contains("outside the usable ranges"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> a.reserve(0x123, 0x1000)).getMessage()
                .contains("not aligned"));
        assertThrows(IllegalArgumentException.class, () -> a.free(0x200000));
    }

    @Test
    void randomAllocationsNeverOverlapAndStayInRange() {
        Random rnd = new Random(42);
        IovaAllocator a = new IovaAllocator(List.of(new IovaRange(0x1000, 0xfffffL), new IovaRange(0x200000, 0x3fffffL)),
                4096, 64);
        List<long[]> live = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            if (!live.isEmpty() && rnd.nextInt(3) == 0) {
                a.free(live.remove(rnd.nextInt(live.size()))[0]);
                continue;
            }
            long size = (1 + rnd.nextInt(16)) * 4096L;
            long iova;
            try {
                iova = a.allocate(size, 0);
            } catch (IllegalStateException full) {
                continue;
            }
            long end = iova + size;
            assertTrue(a.ranges().stream().anyMatch(r -> r.contains(iova, size)));
            for (long[] l : live) {
                assertTrue(end <= l[0] || iova >= l[0] + l[1], "overlap");
            }
            live.add(new long[] {iova, size});
        }
        assertEquals(live.size(), a.allocations());
    }
}
