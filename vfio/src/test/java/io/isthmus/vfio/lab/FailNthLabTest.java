package io.isthmus.vfio.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sys.Errno;
import io.isthmus.sys.Libc;
import io.isthmus.vfio.RegionInfo;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.dma.IovaAllocator;
import io.isthmus.vfio.pci.PciConfig;
import io.isthmus.vfio.pci.PciDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Opening edu through VFIO and mapping DMA on the real kernel, with each system call in turn failing
 * ({@link Libc.FailNth}, as the kernel's {@code fail-nth}): every failure names its step and errno, and leaves no
 * descriptor and no VFIO mapping (BAR) behind; the IOMMU's DMA mappings go with the container, which must be closed.
 * The canned-kernel version, on any host, is {@code io.isthmus.vfio.FailNthTest}.
 */
@Tag("lab")
class FailNthLabTest {

    @AfterEach
    void disarm() {
        Libc.FailNth.disarm();
    }

    static long fds() throws Exception {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    static long vfioMappings() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("vfio")).count();
    }

    static void openAndMap(PciDevice pci) {
        try (DmaBuffer buffer = DmaBuffer.anonymous(2 * DmaBuffer.pageSize());
                VfioContainer c = VfioContainer.open()) {
            VfioDevice d = c.device(pci);
            d.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
            d.mapRegion(RegionInfo.BAR0);
            long iova = IovaAllocator.forIommu(c.iommuInfo(), Edu.DMA_BITS).allocate(buffer.size(), 0);
            buffer.mapTo(c, iova, 0, DmaBuffer.pageSize()).close();
            buffer.mapTo(c, iova);
        }
    }

    @Test
    void everyFailingCallIsNamedAndLeavesNothingBehind() throws Exception {
        PciDevice pci = Edu.find();
        openAndMap(pci); // warm
        long fdsBefore = fds(), mapsBefore = vfioMappings();
        List<String> outcomes = new ArrayList<>();
        int n = 1;
        for (; n < 300; n++) {
            Libc.FailNth.arm(n, Errno.ENOMEM);
            RuntimeException failure = null;
            try {
                openAndMap(pci);
            } catch (RuntimeException e) {
                failure = e;
            }
            if (!Libc.FailNth.disarm()) {
                assertEquals(null, failure);
                break;
            }
            String outcome = n + ": " + (failure == null ? "tolerated" : failure.getMessage());
            outcomes.add(outcome);
            if (failure != null) {
                assertTrue(failure.getMessage().contains("ENOMEM"), outcome);
            }
            assertEquals(fdsBefore, fds(), "descriptors after " + outcome);
            assertEquals(mapsBefore, vfioMappings(), "VFIO mappings after " + outcome);
        }
        assertTrue(n > 10 && n < 300, n - 1 + " counted calls: " + outcomes);
        System.out.println("FailNthLabTest: " + (n - 1) + " calls failed in turn:\n  " + String.join("\n  ", outcomes));
    }
}
