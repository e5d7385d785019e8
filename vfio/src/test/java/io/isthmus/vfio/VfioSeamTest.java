package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.sys.Errno;
import io.isthmus.sys.EventFd;
import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.pci.PciConfig;
import io.isthmus.vfio.pci.PciDevice;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/**
 * Container, group and device logic through the syscall seam with canned kernel answers ({@link CannedKernel}):
 * the argsz/capability protocol, the steps and their errors, and the close order. The real-kernel versions of
 * these checks are the lab tests ({@code io.isthmus.vfio.lab}).
 */
class VfioSeamTest {
    private final CannedKernel kernel = new CannedKernel();

    @Test
    void openChecksApiVersionAndPicksType1v2() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            assertEquals(vfio_h.VFIO_TYPE1v2_IOMMU(), c.iommuType());
        }
        assertEquals(List.of("open /dev/vfio/vfio", "VFIO_GET_API_VERSION /dev/vfio/vfio",
                "VFIO_CHECK_EXTENSION /dev/vfio/vfio " + vfio_h.VFIO_TYPE1v2_IOMMU(), "close /dev/vfio/vfio"),
                kernel.calls);
    }

    @Test
    void wrongApiVersionIsNamedAndClosesTheFd() {
        kernel.apiVersion = 1;
        VfioException e = assertThrows(VfioException.class, () -> VfioContainer.open(kernel, "/dev/vfio"));
        assertEquals(VfioException.Step.API_VERSION, e.step());
        assertTrue(e.getMessage().startsWith("ApiVersion: kernel VFIO API version 1"), e.getMessage());
        assertEquals("close /dev/vfio/vfio", kernel.calls.getLast());
    }

    @Test
    void missingContainerSaysHowToGetOne() {
        kernel.openErrors.put("/dev/vfio/vfio", Errno.ENOENT);
        VfioException e = assertThrows(VfioException.class, () -> VfioContainer.open(kernel, "/dev/vfio"));
        assertEquals(VfioException.Step.OPEN_CONTAINER, e.step());
        assertTrue(e.getMessage().contains("modprobe vfio-pci"), e.getMessage());
    }

    @Test
    void iommuInfoGrowsTheBufferToFetchTheCapabilityChain() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            c.group(7);
            IommuInfo info = c.iommuInfo();
            assertEquals(2, info.iovaRanges().size());
            assertEquals(65535, info.dmaAvailable().getAsInt());
            assertEquals(2, kernel.calls.stream().filter(s -> s.startsWith("VFIO_IOMMU_GET_INFO")).count(),
                    "one call to learn the size, one to fetch the chain");
        }
    }

    @Test
    void setIommuComesAfterTheFirstGroupIsAttached() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            assertThrows(IllegalStateException.class, c::iommuInfo);
            VfioGroup g = c.group(7);
            assertTrue(g == c.group(7), "the same group object for the same id");
        }
        int set = kernel.calls.indexOf("VFIO_GROUP_SET_CONTAINER /dev/vfio/7");
        int iommu = kernel.calls.indexOf("VFIO_SET_IOMMU /dev/vfio/vfio " + vfio_h.VFIO_TYPE1v2_IOMMU());
        assertTrue(set >= 0 && iommu > set, kernel.calls.toString());
    }

    @Test
    void nonViableGroupIsRefusedBeforeAttaching() {
        kernel.viable = false;
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioException e = assertThrows(VfioException.class, () -> c.group(7));
            assertEquals(VfioException.Step.GROUP_NOT_VIABLE, e.step());
            assertTrue(e.getMessage().contains("IOMMU group 7 is not viable"), e.getMessage());
            assertTrue(kernel.calls.stream().noneMatch(s -> s.startsWith("VFIO_GROUP_SET_CONTAINER")));
            assertEquals("close /dev/vfio/7", kernel.calls.getLast());
        }
    }

    @Test
    void busyGroupAndBusyDeviceGiveClearErrors() {
        kernel.openErrors.put("/dev/vfio/7", Errno.EBUSY);
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioException e = assertThrows(VfioException.class, () -> c.group(7));
            assertEquals(VfioException.Step.OPEN_GROUP, e.step());
            assertTrue(e.getMessage().contains("already open"), e.getMessage());
            assertEquals(Errno.EBUSY, e.errno());
        }
        kernel.openErrors.clear();
        kernel.deviceFdError = Errno.EBUSY;
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioException e = assertThrows(VfioException.class, () -> c.group(7).device("0000:00:02.0"));
            assertEquals(VfioException.Step.GROUP_GET_DEVICE_FD, e.step());
            assertTrue(e.getMessage().contains("in use by another user") && e.getMessage().contains("EBUSY"), e.getMessage());
        }
    }

    @Test
    void deviceDiscoversRegionsWithCapabilitiesAndIrqs() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioDevice d = c.group(7).device(PciAddress.parse("0000:00:02.0"));
            assertTrue(d.isPci() && d.canReset());
            assertEquals(9, d.regions().size());
            assertEquals(0, d.region(8).size(), "EINVAL for the VGA region means absent");
            RegionInfo bar0 = d.region(0);
            assertEquals(List.of(new RegionInfo.SparseArea(0, 0x1000), new RegionInfo.SparseArea(0x2000, 0xfe000)),
                    bar0.sparseAreas());
            assertEquals(5, d.irqs().size());
            assertTrue(d.irq(IrqInfo.INTX).maskable());
            assertEquals(0, d.irq(IrqInfo.ERR).count(), "EINVAL for an interrupt index means absent");
            VfioException e = assertThrows(VfioException.class, () -> d.mapRegion(0));
            assertTrue(e.getMessage().contains("mapArea"), e.getMessage());
            MemorySegment area = d.mapArea(0, bar0.sparseAreas().get(1));
            assertEquals(0xfe000, area.byteSize());
            assertTrue(kernel.calls.contains("mmap device 0000:00:02.0 0x2000 0xfe000"), kernel.calls.toString());
            // Config space goes through the config region's offset (index 7 -> 7 << 40 in this twin).
            assertEquals(0x03020100, d.readConfig32(0));
            assertTrue(kernel.calls.contains(String.format("pread device 0000:00:02.0 0x%x 4", 7L << 40)));
            e = assertThrows(VfioException.class, () -> d.readConfig32(254));
            assertEquals(VfioException.Step.INVALID_ARGUMENT, e.step());
        }
    }

    @Test
    void setIrqsEncodesEventfdsMaskAndUnmask() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio");
                EventFd efd = EventFd.create(0, "test msi")) {
            VfioDevice d = c.group(7).device("0000:00:02.0");
            d.enableIrq(IrqInfo.MSI, 0, efd);
            d.maskIrq(IrqInfo.INTX, 0, 1);
            d.unmaskIrq(IrqInfo.INTX, 0, 1);
            d.disableIrq(IrqInfo.MSI);
            List<String> sets = kernel.calls.stream().filter(s -> s.startsWith("VFIO_DEVICE_SET_IRQS")).toList();
            int eventfdTrigger = vfio_h.VFIO_IRQ_SET_DATA_EVENTFD() | vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER();
            int noneMask = vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_MASK();
            int noneUnmask = vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_UNMASK();
            int noneTrigger = vfio_h.VFIO_IRQ_SET_DATA_NONE() | vfio_h.VFIO_IRQ_SET_ACTION_TRIGGER();
            assertEquals(List.of(
                    String.format("VFIO_DEVICE_SET_IRQS device 0000:00:02.0 flags 0x%x index 1 start 0 count 1", eventfdTrigger),
                    String.format("VFIO_DEVICE_SET_IRQS device 0000:00:02.0 flags 0x%x index 0 start 0 count 1", noneMask),
                    String.format("VFIO_DEVICE_SET_IRQS device 0000:00:02.0 flags 0x%x index 0 start 0 count 1", noneUnmask),
                    String.format("VFIO_DEVICE_SET_IRQS device 0000:00:02.0 flags 0x%x index 1 start 0 count 0", noneTrigger)),
                    sets);
        }
    }

    @Test
    void closeOrderIsDeviceThenGroupThenContainer() {
        MemorySegment bar;
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioDevice d = c.group(7).device("0000:00:02.0");
            bar = d.mapArea(0, d.region(0).sparseAreas().getFirst());
        }
        List<String> tail = kernel.calls.subList(kernel.calls.size() - 4, kernel.calls.size());
        assertEquals(List.of("close device 0000:00:02.0", "VFIO_GROUP_UNSET_CONTAINER /dev/vfio/7",
                "close /dev/vfio/7", "close /dev/vfio/vfio"), tail);
        assertThrows(IllegalStateException.class, () -> bar.get(java.lang.foreign.ValueLayout.JAVA_INT, 0),
                "BAR mappings die with the device");
    }

    @Test
    void closedDeviceFailsWithEbadfNotAReusedFd() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioDevice d = c.group(7).device("0000:00:02.0");
            d.close();
            VfioException e = assertThrows(VfioException.class, d::reset);
            assertEquals(Errno.EBADF, e.errno());
            assertEquals(VfioException.Step.DEVICE_RESET, e.step());
        }
    }

    @Test
    void aMappingClosedAfterItsContainerMakesNoCallAndSaysItIsGone() {
        DmaMapping kept, closedEarly;
        try (DmaBuffer buf = DmaBuffer.anonymous(4 * DmaBuffer.pageSize())) {
            try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
                c.group(7);
                closedEarly = buf.mapTo(c, 0x1000, 0, DmaBuffer.pageSize());
                kept = buf.mapTo(c, 0x10000);
                assertTrue(kept.mapped());
                closedEarly.close();
                assertFalse(closedEarly.mapped());
            }
            assertFalse(kept.mapped(), "the container's close dropped it");
            kept.close();
        } // the buffer closes after the container: the natural order of try (buffer; container)
        List<String> unmaps = kernel.calls.stream().filter(x -> x.startsWith("VFIO_IOMMU_UNMAP_DMA")).toList();
        assertEquals(List.of("VFIO_IOMMU_UNMAP_DMA /dev/vfio/vfio iova 0x1000 size 0x" + Long.toHexString(
                DmaBuffer.pageSize())), unmaps, "only the mapping closed while its container was open is unmapped");
        VfioContainer closed = VfioContainer.open(kernel, "/dev/vfio");
        closed.close();
        var e = assertThrows(IllegalStateException.class, () -> closed.unmap(0x1000, 0x1000));
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }

    @Test
    void closingTheLastGroupDropsTheIommuAndTheNextGroupSetsItAgain() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio");
                DmaBuffer buf = DmaBuffer.anonymous(DmaBuffer.pageSize())) {
            VfioGroup g = c.group(7);
            DmaMapping old = buf.mapTo(c, 0x1000);
            g.close();
            assertFalse(old.mapped(), "the kernel dropped the IOMMU with the last group");
            assertThrows(IllegalStateException.class, () -> c.map(buf.segment(), 0x1000, true, true),
                    "no IOMMU until a group is attached again");
            c.group(7);
            DmaMapping fresh = buf.mapTo(c, 0x1000);
            old.close(); // must not unmap the fresh mapping at the same IOVA
            assertTrue(fresh.mapped());
            fresh.close();
        }
        String setIommu = "VFIO_SET_IOMMU /dev/vfio/vfio " + vfio_h.VFIO_TYPE1v2_IOMMU();
        assertEquals(2, kernel.calls.stream().filter(setIommu::equals).count(), kernel.calls.toString());
        assertEquals(1, kernel.calls.stream().filter(x -> x.startsWith("VFIO_IOMMU_UNMAP_DMA")).count(),
                kernel.calls.toString());
    }

    @Test
    void aBufferMapsPageAlignedSlicesAndUnmapsThemOnClose() {
        long page = DmaBuffer.pageSize();
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            c.group(7);
            try (DmaBuffer buf = DmaBuffer.anonymous(3 * page)) {
                DmaMapping sq = buf.mapTo(c, 0x100000, 0, page);
                DmaMapping cq = buf.mapTo(c, 0x200000, 2 * page, page);
                assertEquals(buf.segment().address() + 2 * page, cq.host().address());
                assertEquals(page, sq.size());
                cq.memory().putIntRelease(0, 7);
                assertEquals(7, buf.memory().getIntAcquire(2 * page));
                var e = assertThrows(IllegalArgumentException.class, () -> buf.mapTo(c, 0x300000, 512, page));
                assertTrue(e.getMessage().contains("not page-aligned"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> buf.mapTo(c, 0x300000, 2 * page, 2 * page));
                assertTrue(e.getMessage().contains("not inside"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> buf.mapTo(c, 0x300000, 0, 0));
                assertTrue(e.getMessage().contains("not inside"), e.getMessage());
            }
        }
        String size = " size 0x" + Long.toHexString(page);
        List<String> dma = kernel.calls.stream().filter(x -> x.startsWith("VFIO_IOMMU_")).filter(
                x -> x.contains("_DMA")).toList();
        assertEquals(List.of("VFIO_IOMMU_MAP_DMA /dev/vfio/vfio iova 0x100000" + size,
                "VFIO_IOMMU_MAP_DMA /dev/vfio/vfio iova 0x200000" + size,
                "VFIO_IOMMU_UNMAP_DMA /dev/vfio/vfio iova 0x100000" + size,
                "VFIO_IOMMU_UNMAP_DMA /dev/vfio/vfio iova 0x200000" + size), dma);
    }

    @Test
    void aSecondOpenOfAnOpenDeviceReturnsItWithoutASecondFd() {
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioGroup g = c.group(7);
            VfioDevice first = g.device("0000:00:02.0");
            assertSame(first, g.device(PciAddress.parse("0000:00:02.0")));
            assertEquals(1, kernel.calls.stream().filter(x -> x.startsWith("VFIO_GROUP_GET_DEVICE_FD")).count());
            first.close();
            VfioDevice again = g.device("0000:00:02.0");
            assertNotSame(first, again, "after its close the device opens afresh");
            assertEquals(2, kernel.calls.stream().filter(x -> x.startsWith("VFIO_GROUP_GET_DEVICE_FD")).count());
        }
    }

    @Test
    void deviceFromSysfsOpensItsGroupOrSaysWhatIsMissing() {
        PciAddress a = PciAddress.parse("0000:00:02.0");
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioDevice d = c.device(pci(a, Optional.of("vfio-pci"), OptionalInt.of(7)));
            assertEquals("0000:00:02.0", d.name());
            assertEquals(7, d.group().id());
            int opens = (int) kernel.calls.stream().filter(x -> x.startsWith("open")).count();
            VfioException e = assertThrows(VfioException.class,
                    () -> c.device(pci(a, Optional.of("e1000e"), OptionalInt.of(7))));
            assertEquals(VfioException.Step.FIND_DEVICE, e.step());
            assertTrue(e.getMessage().startsWith("FindDevice: 0000:00:02.0 is driven by the kernel driver e1000e, not"
                    + " vfio-pci: bind it first ('isthmus vfio bind 0000:00:02.0'"), e.getMessage());
            e = assertThrows(VfioException.class, () -> c.device(pci(a, Optional.empty(), OptionalInt.of(7))));
            assertTrue(e.getMessage().contains("is driven by no driver"), e.getMessage());
            e = assertThrows(VfioException.class, () -> c.device(pci(a, Optional.of("vfio-pci"), OptionalInt.empty())));
            assertTrue(e.getMessage().contains("has no IOMMU group") && e.getMessage().contains("intel_iommu=on"),
                    e.getMessage());
            assertEquals(opens, kernel.calls.stream().filter(x -> x.startsWith("open")).count(),
                    "refused before opening anything");
        }
    }

    private static PciDevice pci(PciAddress a, Optional<String> driver, OptionalInt group) {
        return new PciDevice(a, Path.of("/nonexistent"), 0x1234, 0x11e8, 0, 0, 0x00ff00, 0x10, driver,
                Optional.empty(), group, List.of());
    }

    @Test
    void commandBitsAreSetAndClearedByNameAndCheckedOnReadBack() {
        assertEquals(vfio_h.VFIO_PCI_CONFIG_REGION_INDEX(), RegionInfo.CONFIG);
        assertEquals(vfio_h.VFIO_PCI_BAR0_REGION_INDEX(), RegionInfo.BAR0);
        try (VfioContainer c = VfioContainer.open(kernel, "/dev/vfio")) {
            VfioDevice d = c.group(7).device("0000:00:02.0");
            assertEquals(0x0504, d.readConfig16(PciConfig.COMMAND), "the twin's config bytes are 0, 1, 2, ...");
            assertEquals(0x0506, d.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER));
            assertEquals(0x0502, d.clearCommandBits(PciConfig.COMMAND_MASTER));
            assertEquals(0x0502, d.readConfig16(PciConfig.COMMAND));
            kernel.stuckClearCommandBits = PciConfig.COMMAND_MASTER;
            VfioException e = assertThrows(VfioException.class, () -> d.setCommandBits(PciConfig.COMMAND_MASTER));
            assertEquals(VfioException.Step.PCI_COMMAND, e.step());
            assertTrue(e.getMessage().contains("after setting 0x4 and clearing 0x0 it reads 0x0502"), e.getMessage());
            e = assertThrows(VfioException.class, () -> d.setCommandBits(0x10000));
            assertEquals(VfioException.Step.INVALID_ARGUMENT, e.step());

            d.writeConfig8(PciConfig.INTERRUPT_LINE, 0x5a);
            assertEquals(0x5a, d.readConfig8(PciConfig.INTERRUPT_LINE));
            assertEquals(0x3d, d.readConfig8(PciConfig.INTERRUPT_PIN), "one byte written, not two");
            assertTrue(kernel.calls.contains(String.format("pwrite device 0000:00:02.0 0x%x 1", (7L << 40) + 0x3c)),
                    kernel.calls.toString());
        }
    }
}
