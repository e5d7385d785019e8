package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.isthmus.sys.Errno;
import io.isthmus.sys.NativeException;
import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.pci.PciConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The error paths of opening a VFIO device and mapping DMA, each in turn: the Nth call through the syscall seam
 * fails (as the kernel's {@code fail-nth} makes its Nth allocation fail), for N = 1, 2, ... until the whole
 * operation runs without reaching the Nth call. Every failure must be a {@link VfioException} naming its step and
 * the errno, and leave no descriptor open and no DMA mapping in the (canned) kernel. The same walk on the real
 * kernel, through {@code Libc.FailNth}, is {@code io.isthmus.vfio.lab.FailNthLabTest}.
 */
class FailNthTest {
    private final CannedKernel kernel = new CannedKernel();

    /** The canned kernel, with its Nth call (close excepted: Linux always releases) failing with ENOMEM. */
    static final class FailingKernel implements VfioSys {
        final VfioSys k;
        int failAt, calls;
        String failed;

        FailingKernel(VfioSys k, int failAt) {
            this.k = k;
            this.failAt = failAt;
        }

        private boolean fail(String what) {
            if (++calls == failAt) {
                failed = what;
                return true;
            }
            return false;
        }

        @Override
        public int open(String path) {
            return fail("open " + path) ? -Errno.ENOMEM : k.open(path);
        }

        @Override
        public int ioctl(int fd, long request, long arg) {
            return fail("ioctl " + request) ? -Errno.ENOMEM : k.ioctl(fd, request, arg);
        }

        @Override
        public int ioctl(int fd, long request, MemorySegment arg) {
            return fail("ioctl " + request) ? -Errno.ENOMEM : k.ioctl(fd, request, arg);
        }

        @Override
        public long pread(int fd, MemorySegment buf, long offset) {
            return fail("pread") ? -Errno.ENOMEM : k.pread(fd, buf, offset);
        }

        @Override
        public long pwrite(int fd, MemorySegment buf, long offset) {
            return fail("pwrite") ? -Errno.ENOMEM : k.pwrite(fd, buf, offset);
        }

        @Override
        public MemorySegment mmap(Arena arena, int fd, long offset, long length, int prot, String what) {
            if (fail("mmap " + what)) {
                throw new NativeException("mmap " + what, Errno.ENOMEM);
            }
            return k.mmap(arena, fd, offset, length, prot, what);
        }

        @Override
        public int close(int fd) {
            return k.close(fd);
        }
    }

    /** What a driver does first: open the container, the group and the device, map BAR0 (the canned one is sparse:
     *  its first area), bus master, map DMA. */
    static void openAndMap(VfioSys sys) {
        try (DmaBuffer buffer = DmaBuffer.anonymous(2 * DmaBuffer.pageSize());
                VfioContainer c = VfioContainer.open(sys, "/dev/vfio")) {
            VfioDevice d = c.group(7).device("0000:00:02.0");
            d.mapArea(RegionInfo.BAR0, d.region(RegionInfo.BAR0).sparseAreas().getFirst());
            d.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
            c.iommuInfo();
            buffer.mapTo(c, 0x100000).close();
            buffer.mapTo(c, 0x200000);
        }
    }

    @Test
    void everyFailingCallIsNamedAndLeavesNothingOpenOrMapped() {
        List<String> steps = new ArrayList<>();
        int n = 1;
        for (; n < 500; n++) {
            FailingKernel sys = new FailingKernel(kernel, n);
            RuntimeException failure = null;
            try {
                openAndMap(sys);
            } catch (RuntimeException e) {
                failure = e;
            }
            if (sys.failed == null) {
                assertEquals(null, failure, "no call failed, yet the operation did");
                break;
            }
            String where = "call " + n + " (" + sys.failed + ")";
            if (failure == null) {
                // A call made while closing (VFIO_GROUP_UNSET_CONTAINER): close goes on and releases the rest.
                assertEquals(List.of(), kernel.openFds(), where + ": descriptors left open");
                steps.add("tolerated while closing: " + sys.failed);
                continue;
            }
            if (!(failure instanceof VfioException ve)) {
                throw new AssertionError(where + ": not a VfioException", failure);
            }
            assertNotNull(ve.step(), where);
            assertTrue(ve.getMessage().contains("ENOMEM"), where + ": " + ve.getMessage());
            assertEquals(List.of(), kernel.openFds(), where + ": descriptors left open; " + ve.getMessage());
            assertEquals(java.util.Set.of(), kernel.dmaMapped, where + ": DMA left mapped; " + ve.getMessage());
            steps.add(ve.step().name());
        }
        assertTrue(n > 10 && n < 500, "the operation made " + (n - 1) + " calls");
        assertTrue(steps.containsAll(List.of("OPEN_CONTAINER", "OPEN_GROUP", "GROUP_GET_DEVICE_FD", "IOMMU_DMA_MAP",
                "REGION_MMAP")), steps.toString());
        assertEquals(List.of(), kernel.openFds());
    }
}
