package io.isthmus.vfio.dma;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class DmaBufferTest {
    @Test
    void anonymousBufferIsPageRoundedZeroedAndFreedOnClose() {
        DmaBuffer b = DmaBuffer.anonymous(5000);
        assertEquals(8192, b.size());
        assertEquals(0, b.segment().address() % 4096, "page-aligned, as VFIO_IOMMU_MAP_DMA requires");
        assertEquals(0, b.segment().get(ValueLayout.JAVA_LONG, 8184));
        b.segment().set(ValueLayout.JAVA_LONG, 0, 42);
        b.close();
        assertThrows(IllegalStateException.class, () -> b.segment().get(ValueLayout.JAVA_LONG, 0));
        b.close(); // idempotent
    }

    @Test
    void alignedBufferStartsOnTheBoundary() {
        try (DmaBuffer b = DmaBuffer.anonymous(4096, DmaBuffer.HUGE_2M)) {
            assertEquals(0, b.segment().address() % DmaBuffer.HUGE_2M);
            assertEquals(4096, b.size());
        }
        assertThrows(IllegalArgumentException.class, () -> DmaBuffer.anonymous(4096, 3000));
    }

    @Test
    void hugePagesComeFromThePoolOrTheErrorSaysHowToFillIt() throws Exception {
        long free = Long.parseLong(Files.readAllLines(Path.of("/proc/meminfo")).stream()
                .filter(l -> l.startsWith("HugePages_Free:")).findFirst().orElse("HugePages_Free: 0")
                .replaceAll("\\D", ""));
        if (free > 0) {
            try (DmaBuffer b = DmaBuffer.hugePages(1)) {
                assertEquals(DmaBuffer.HUGE_2M, b.size());
                assertTrue(b.huge());
            }
        } else {
            var e = assertThrows(IllegalStateException.class, () -> DmaBuffer.hugePages(1));
            assertTrue(e.getMessage().contains("/proc/sys/vm/nr_hugepages"), e.getMessage());
        }
    }
}
