package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.sys.Errno;
import io.isthmus.sys.EventFd;
import java.lang.foreign.MemorySegment;
import java.util.List;
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
            assertTrue(e.getMessage().contains("already in use") && e.getMessage().contains("EBUSY"), e.getMessage());
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
}
