package io.isthmus.sys;

import static io.isthmus.sys.Ioc.io;

/**
 * The VFIO ioctl request numbers ({@code linux/vfio.h}), kept by hand because their macros are function-like.
 *
 * <p>Every VFIO request is {@code _IO(VFIO_TYPE, VFIO_BASE + n)}: the argument's size travels in the
 * structure's own {@code argsz} field instead of the request number. Each field is named like its C macro and
 * checked against the headers by the layout conformance test.
 */
public final class VfioIoctl {
    private static final int VFIO_TYPE = ';';
    private static final int VFIO_BASE = 100;

    private VfioIoctl() {}

    // ---- container (/dev/vfio/vfio) ----
    public static final long VFIO_GET_API_VERSION = io(VFIO_TYPE, VFIO_BASE + 0);
    public static final long VFIO_CHECK_EXTENSION = io(VFIO_TYPE, VFIO_BASE + 1);
    public static final long VFIO_SET_IOMMU = io(VFIO_TYPE, VFIO_BASE + 2);
    public static final long VFIO_IOMMU_GET_INFO = io(VFIO_TYPE, VFIO_BASE + 12);
    public static final long VFIO_IOMMU_MAP_DMA = io(VFIO_TYPE, VFIO_BASE + 13);
    public static final long VFIO_IOMMU_UNMAP_DMA = io(VFIO_TYPE, VFIO_BASE + 14);
    public static final long VFIO_IOMMU_ENABLE = io(VFIO_TYPE, VFIO_BASE + 15);
    public static final long VFIO_IOMMU_DISABLE = io(VFIO_TYPE, VFIO_BASE + 16);
    public static final long VFIO_IOMMU_DIRTY_PAGES = io(VFIO_TYPE, VFIO_BASE + 17);

    // ---- group (/dev/vfio/N) ----
    public static final long VFIO_GROUP_GET_STATUS = io(VFIO_TYPE, VFIO_BASE + 3);
    public static final long VFIO_GROUP_SET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 4);
    public static final long VFIO_GROUP_UNSET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 5);
    public static final long VFIO_GROUP_GET_DEVICE_FD = io(VFIO_TYPE, VFIO_BASE + 6);

    // ---- device ----
    public static final long VFIO_DEVICE_GET_INFO = io(VFIO_TYPE, VFIO_BASE + 7);
    public static final long VFIO_DEVICE_GET_REGION_INFO = io(VFIO_TYPE, VFIO_BASE + 8);
    public static final long VFIO_DEVICE_GET_IRQ_INFO = io(VFIO_TYPE, VFIO_BASE + 9);
    public static final long VFIO_DEVICE_SET_IRQS = io(VFIO_TYPE, VFIO_BASE + 10);
    public static final long VFIO_DEVICE_RESET = io(VFIO_TYPE, VFIO_BASE + 11);
    public static final long VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = io(VFIO_TYPE, VFIO_BASE + 12);
    public static final long VFIO_DEVICE_PCI_HOT_RESET = io(VFIO_TYPE, VFIO_BASE + 13);
    public static final long VFIO_DEVICE_IOEVENTFD = io(VFIO_TYPE, VFIO_BASE + 16);
    public static final long VFIO_DEVICE_FEATURE = io(VFIO_TYPE, VFIO_BASE + 17);
}
