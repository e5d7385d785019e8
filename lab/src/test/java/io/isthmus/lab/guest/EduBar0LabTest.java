package io.isthmus.lab.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.bindings.vfio.vfio_group_status;
import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_region_info;
import io.isthmus.sys.Fd;
import io.isthmus.sys.Libc;
import io.isthmus.sys.Mmap;
import io.isthmus.sys.VfioIoctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs in the lab guest: maps edu's BAR0 through VFIO with nothing but raw ioctls (the vfio module's API is
 * tested by its own lab tests) and checks edu's identification and liveness registers.
 */
@Tag("lab")
class EduBar0LabTest {
    /** edu's register 0x00: 0xRRrr00edh, major.minor version 1.0 in QEMU 7.2. */
    private static final int EDU_ID = 0x010000ed;
    /** MMIO must not be cached, merged or elided: every access goes to the device. */
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    @Test
    void bar0IdentificationAndLiveness() throws Exception {
        EduDevice edu = EduDevice.find();
        try (Arena arena = Arena.ofConfined();
             Fd container = Fd.open("/dev/vfio/vfio", Libc.O_RDWR | Libc.O_CLOEXEC);
             Fd group = Fd.open("/dev/vfio/" + edu.iommuGroup(), Libc.O_RDWR | Libc.O_CLOEXEC)) {
            assertEquals(vfio_h.VFIO_API_VERSION(), container.ioctl(VfioIoctl.VFIO_GET_API_VERSION));
            assertEquals(1, container.ioctl(VfioIoctl.VFIO_CHECK_EXTENSION, vfio_h.VFIO_TYPE1v2_IOMMU()),
                    "the container should support the type1v2 IOMMU");

            MemorySegment status = arena.allocate(vfio_group_status.layout());
            vfio_group_status.argsz(status, (int) vfio_group_status.sizeof());
            group.ioctl(VfioIoctl.VFIO_GROUP_GET_STATUS, status);
            assertTrue((vfio_group_status.flags(status) & vfio_h.VFIO_GROUP_FLAGS_VIABLE()) != 0,
                    "edu's group is not viable");

            MemorySegment containerFd = arena.allocate(ValueLayout.JAVA_INT);
            containerFd.set(ValueLayout.JAVA_INT, 0, container.get());
            group.ioctl(VfioIoctl.VFIO_GROUP_SET_CONTAINER, containerFd);
            container.ioctl(VfioIoctl.VFIO_SET_IOMMU, vfio_h.VFIO_TYPE1v2_IOMMU());

            int deviceFd = group.ioctl(VfioIoctl.VFIO_GROUP_GET_DEVICE_FD, arena.allocateFrom(edu.bdf()));
            // The device fd must close before the group's (else the group stays busy): try order closes it first.
            try (Fd device = Fd.adopt(deviceFd, "vfio device " + edu.bdf())) {
                MemorySegment region = arena.allocate(vfio_region_info.layout());
                vfio_region_info.argsz(region, (int) vfio_region_info.sizeof());
                vfio_region_info.index(region, vfio_h.VFIO_PCI_BAR0_REGION_INDEX());
                device.ioctl(VfioIoctl.VFIO_DEVICE_GET_REGION_INFO, region);
                int flags = vfio_region_info.flags(region);
                long size = vfio_region_info.size(region);
                assertEquals(1 << 20, size, "edu's BAR0 is 1 MiB");
                assertTrue((flags & vfio_h.VFIO_REGION_INFO_FLAG_MMAP()) != 0, "BAR0 should be mmap-able");

                try (Arena bar = Arena.ofConfined()) {
                    MemorySegment bar0 = Mmap.map(bar, device, vfio_region_info.offset(region), size,
                            Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, "edu BAR0");
                    assertEquals(EDU_ID, (int) INT.getVolatile(bar0, 0L),
                            () -> "identification register: 0x" + Integer.toHexString((int) INT.getVolatile(bar0, 0L)));
                    for (int value : new int[] {0, 0x12345678, 0xdeadbeef, -1}) {
                        INT.setVolatile(bar0, 4L, value);
                        int back = (int) INT.getVolatile(bar0, 4L);
                        assertEquals(~value, back, () -> "liveness register after writing 0x"
                                + Integer.toHexString(value) + ": 0x" + Integer.toHexString(back));
                    }
                    assertNotEquals(0, (int) INT.getVolatile(bar0, 0L));
                }
            }
        }
    }
}
