package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info;
import io.isthmus.bindings.vfio.vfio_region_info;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/**
 * Capability-chain decoding from crafted buffers: the same {@link IommuInfo#decode} and {@link RegionInfo#decode}
 * that {@link VfioContainer#iommuInfo()} and device discovery call on what the kernel filled.
 */
class CapabilityChainTest {
    @Test
    void iommuInfoWithIovaRangesAndDmaAvailable() {
        try (Arena arena = Arena.ofConfined()) {
            long[][] ranges = {{0, 0xfedfffffL}, {0xfef00000L, 0xffffffffffffL}};
            MemorySegment seg = arena.allocate(InfoBuffers.iommuInfoSize(2), 8);
            vfio_iommu_type1_info.argsz(seg, (int) seg.byteSize());
            InfoBuffers.iommuInfo(seg, 0x40201000L, ranges, 65535);
            IommuInfo info = IommuInfo.decode(seg);
            assertEquals(0x40201000L, info.pageSizes());
            assertEquals(4096, info.minPageSize(1));
            assertEquals(List.of(new IovaRange(0, 0xfedfffffL), new IovaRange(0xfef00000L, 0xffffffffffffL)),
                    info.iovaRanges());
            assertEquals(OptionalInt.of(65535), info.dmaAvailable());
            assertEquals(2, info.capabilities().size());
            // The interrupt window 0xfee00000 (x86 MSI) is not usable.
            assertFalse(info.usable(0xfee00000L, 4096));
            assertTrue(info.usable(0x100000, 4096));
            assertFalse(info.usable(0xfedff000L, 0x2000), "a mapping straddling the hole");
        }
    }

    /**
     * The bytes Debian's 6.1 kernel returned for VFIO_IOMMU_GET_INFO inside the lab (intel-iommu, edu): migration
     * capability at 0x18, DMA-available at 0x38 (12 bytes, unpadded), IOVA ranges at 0x44, so its 64-bit range
     * fields are only 4-byte aligned.
     */
    static final int[] KERNEL_6_1_INFO = {0x200, 0x3, 0x40201000, 0, 0x18, 0, 0x10002, 0x38, 0, 0, 0x1000, 0,
        0x10000000, 0, 0x10003, 0x44, 0xffff, 0x10001, 0, 2, 0, 0, 0, 0xfedfffff, 0, 0xfef00000, 0, 0xffffffff, 0x7f,
        0, 0};

    @Test
    void realKernelBufferWithUnalignedCapabilities() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(0x200, 8);
            MemorySegment.copy(KERNEL_6_1_INFO, 0, seg, java.lang.foreign.ValueLayout.JAVA_INT, 0,
                    KERNEL_6_1_INFO.length);
            IommuInfo info = IommuInfo.decode(seg);
            assertEquals(0x40201000L, info.pageSizes());
            assertEquals(List.of(new IovaRange(0, 0xfedfffffL), new IovaRange(0xfef00000L, 0x7fffffffffL)),
                    info.iovaRanges());
            assertEquals(OptionalInt.of(65535), info.dmaAvailable());
            assertEquals(List.of(new IommuInfo.CapabilityId(2, 1), new IommuInfo.CapabilityId(3, 1),
                    new IommuInfo.CapabilityId(1, 1)), info.capabilities());
        }
    }

    @Test
    void shortBufferYieldsNoCapabilitiesButTheNeededSize() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(vfio_iommu_type1_info.sizeof(), 8);
            vfio_iommu_type1_info.argsz(seg, (int) seg.byteSize());
            InfoBuffers.iommuInfo(seg, 0x1000, new long[][] {{0, 0xffff}}, 1);
            IommuInfo info = IommuInfo.decode(seg);
            assertTrue(info.iovaRanges().isEmpty());
            assertEquals(InfoBuffers.iommuInfoSize(1), vfio_iommu_type1_info.argsz(seg));
        }
    }

    @Test
    void regionInfoWithSparseAreasAndType() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(InfoBuffers.regionInfoSize(2), 8);
            vfio_region_info.argsz(seg, (int) seg.byteSize());
            InfoBuffers.regionInfo(seg, 0, 0x1000000, 0, new long[][] {{0, 0x2000}, {0x3000, 0xffd000}},
                    vfio_h.VFIO_REGION_TYPE_PCI_VENDOR_TYPE() | 0x10de, 1);
            RegionInfo r = RegionInfo.decode(seg);
            assertEquals(0x1000000, r.size());
            assertTrue(r.readable() && r.writable() && r.mappable());
            assertEquals(List.of(new RegionInfo.SparseArea(0, 0x2000), new RegionInfo.SparseArea(0x3000, 0xffd000)),
                    r.sparseAreas());
            assertEquals(vfio_h.VFIO_REGION_TYPE_PCI_VENDOR_TYPE() | 0x10de, r.type().orElseThrow().type());
            assertTrue(r.describe().contains("sparse [0x0+0x2000] [0x3000+0xffd000]"), r.describe());
        }
    }

    @Test
    void malformedChainsAreRejectedNamingTheOffset() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(64, 8);
            // A header pointing back at itself: a loop.
            InfoBuffers.header(seg, 24, 1, 1, 24);
            var e = assertThrows(IllegalArgumentException.class, () -> VfioCapability.chain(seg, 24));
            assertTrue(e.getMessage().contains("offset 24"), e.getMessage());
            // A first offset past the end of the buffer.
            e = assertThrows(IllegalArgumentException.class, () -> VfioCapability.chain(seg, 60));
            assertTrue(e.getMessage().contains("offset 60"), e.getMessage());
            // A range count larger than the buffer holds.
            MemorySegment info = arena.allocate(InfoBuffers.iommuInfoSize(1), 8);
            vfio_iommu_type1_info.argsz(info, (int) info.byteSize());
            InfoBuffers.iommuInfo(info, 0x1000, new long[][] {{0, 0xffff}}, 1);
            long capOff = vfio_iommu_type1_info.cap_offset(info);
            info.set(java.lang.foreign.ValueLayout.JAVA_INT, capOff + 8, 1000);
            e = assertThrows(IllegalArgumentException.class, () -> IommuInfo.decode(info));
            assertTrue(e.getMessage().contains("claims 1000 ranges"), e.getMessage());
        }
    }
}
