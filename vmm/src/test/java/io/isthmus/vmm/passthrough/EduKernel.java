package io.isthmus.vmm.passthrough;

import io.isthmus.bindings.vfio.vfio_device_info;
import io.isthmus.bindings.vfio.vfio_group_status;
import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_iommu_type1_dma_map;
import io.isthmus.bindings.vfio.vfio_irq_info;
import io.isthmus.bindings.vfio.vfio_irq_set;
import io.isthmus.bindings.vfio.vfio_region_info;
import io.isthmus.sys.Errno;
import io.isthmus.sys.VfioIoctl;
import io.isthmus.vfio.VfioSys;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A VFIO kernel that answers like the lab's for QEMU's edu behind an IOMMU: group 7 holding 0000:00:04.0, whose
 * config region is {@link HostFunctionLayoutTest#edu()} (readable and writable), BAR0 1 MiB and mmap-able (plain
 * memory stands in for it), one MSI vector and one INTx, no MSI-X. Records the calls the code under test makes, so
 * passthrough is checked without /dev/vfio; the code under test is the real one, down to the ioctl structures.
 */
final class EduKernel implements VfioSys {
    static final String DEVICE = "0000:00:04.0";
    static final int GROUP = 7;
    private static final long CONFIG_OFFSET = 7L << 40;
    final List<String> calls = new ArrayList<>();
    final byte[] config = HostFunctionLayoutTest.edu();
    /** Shaped like a device with MSI-X instead: 4 vectors, table at 0x2000 and PBA at 0x3000 of a 16 KiB BAR0. */
    private final boolean msix;

    /** edu as it is (MSI). */
    EduKernel() {
        this(false);
    }

    /** edu, or ({@code msix}) an edu-like device whose BAR0 holds an MSI-X table as an NVMe controller's does. */
    EduKernel(boolean msix) {
        this.msix = msix;
        if (msix) {
            HostFunctionLayoutTest.put(config, 0x41, 1, 0x50);
            HostFunctionLayoutTest.put(config, 0x50, 1, 0x11);
            HostFunctionLayoutTest.put(config, 0x52, 2, 3);
            HostFunctionLayoutTest.put(config, 0x54, 4, 0x2000);
            HostFunctionLayoutTest.put(config, 0x58, 4, 0x3000);
        }
    }
    private final Map<Integer, String> fds = new HashMap<>();
    private int nextFd = 10;

    @Override
    public int open(String path) {
        calls.add("open " + path);
        if (!path.equals("/dev/vfio/vfio") && !path.equals("/dev/vfio/" + GROUP)) {
            return -Errno.ENOENT;
        }
        fds.put(nextFd, path);
        return nextFd++;
    }

    @Override
    public int ioctl(int fd, long request, long arg) {
        if (request == VfioIoctl.VFIO_GET_API_VERSION) {
            return vfio_h.VFIO_API_VERSION();
        }
        if (request == VfioIoctl.VFIO_CHECK_EXTENSION) {
            return arg == vfio_h.VFIO_TYPE1v2_IOMMU() ? 1 : 0;
        }
        if (request == VfioIoctl.VFIO_DEVICE_RESET) {
            calls.add("reset");
        }
        return 0;
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment s) {
        if (request == VfioIoctl.VFIO_GROUP_GET_STATUS) {
            vfio_group_status.flags(s, vfio_h.VFIO_GROUP_FLAGS_VIABLE());
        } else if (request == VfioIoctl.VFIO_GROUP_GET_DEVICE_FD) {
            String dev = s.getString(0);
            if (!dev.equals(DEVICE)) {
                return -Errno.EINVAL;
            }
            fds.put(nextFd, "device " + dev);
            return nextFd++;
        } else if (request == VfioIoctl.VFIO_DEVICE_GET_INFO) {
            vfio_device_info.flags(s, vfio_h.VFIO_DEVICE_FLAGS_PCI() | vfio_h.VFIO_DEVICE_FLAGS_RESET());
            vfio_device_info.num_regions(s, 9);
            vfio_device_info.num_irqs(s, 5);
        } else if (request == VfioIoctl.VFIO_DEVICE_GET_REGION_INFO) {
            int index = vfio_region_info.index(s);
            if (index == 8) {
                return -Errno.EINVAL;
            }
            int rw = vfio_h.VFIO_REGION_INFO_FLAG_READ() | vfio_h.VFIO_REGION_INFO_FLAG_WRITE();
            vfio_region_info.flags(s, index == 0 ? rw | vfio_h.VFIO_REGION_INFO_FLAG_MMAP() : index == 7 ? rw : 0);
            vfio_region_info.size(s, index == 0 ? (msix ? 0x4000 : 1 << 20) : index == 7 ? 256 : 0);
            vfio_region_info.offset(s, (long) index << 40);
            vfio_region_info.cap_offset(s, 0);
        } else if (request == VfioIoctl.VFIO_DEVICE_GET_IRQ_INFO) {
            int index = vfio_irq_info.index(s);
            if (index == 3) {
                return -Errno.EINVAL;
            }
            vfio_irq_info.flags(s, vfio_h.VFIO_IRQ_INFO_EVENTFD());
            vfio_irq_info.count(s, index == 0 || index == 1 ? 1 : index == 2 && msix ? 4 : 0);
        } else if (request == VfioIoctl.VFIO_IOMMU_MAP_DMA) {
            calls.add(String.format("map_dma iova 0x%x size 0x%x flags %d", vfio_iommu_type1_dma_map.iova(s),
                    vfio_iommu_type1_dma_map.size(s), vfio_iommu_type1_dma_map.flags(s)));
        } else if (request == VfioIoctl.VFIO_DEVICE_SET_IRQS) {
            calls.add(String.format("set_irqs flags 0x%x index %d start %d count %d", vfio_irq_set.flags(s),
                    vfio_irq_set.index(s), vfio_irq_set.start(s), vfio_irq_set.count(s)));
        }
        return 0;
    }

    @Override
    public long pread(int fd, MemorySegment buf, long offset) {
        if (offset < CONFIG_OFFSET) {
            calls.add(String.format("bar read 0x%x %d", offset, buf.byteSize()));
        }
        for (long i = 0; i < buf.byteSize(); i++) {
            long at = offset - CONFIG_OFFSET + i;
            buf.set(ValueLayout.JAVA_BYTE, i, at >= 0 && at < config.length ? config[(int) at] : (byte) 0xee);
        }
        return buf.byteSize();
    }

    @Override
    public long pwrite(int fd, MemorySegment buf, long offset) {
        if (offset < CONFIG_OFFSET) {
            calls.add(String.format("bar write 0x%x %d", offset, buf.byteSize()));
            return buf.byteSize();
        }
        StringBuilder sb = new StringBuilder(String.format("config write 0x%x:", offset - CONFIG_OFFSET));
        for (long i = 0; i < buf.byteSize(); i++) {
            long at = offset - CONFIG_OFFSET + i;
            byte b = buf.get(ValueLayout.JAVA_BYTE, i);
            sb.append(String.format(" %02x", b & 0xff));
            if (at >= 0 && at < config.length) {
                config[(int) at] = b;
            }
        }
        calls.add(sb.toString());
        return buf.byteSize();
    }

    @Override
    public MemorySegment mmap(Arena arena, int fd, long offset, long length, int prot, String what) {
        calls.add(String.format("mmap 0x%x 0x%x", offset, length));
        return arena.allocate(length, 4096);
    }

    @Override
    public int close(int fd) {
        fds.remove(fd);
        return 0;
    }
}
