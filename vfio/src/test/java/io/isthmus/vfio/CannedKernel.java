package io.isthmus.vfio;

import io.isthmus.bindings.vfio.vfio_device_info;
import io.isthmus.bindings.vfio.vfio_group_status;
import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_iommu_type1_dma_map;
import io.isthmus.bindings.vfio.vfio_iommu_type1_dma_unmap;
import io.isthmus.bindings.vfio.vfio_irq_info;
import io.isthmus.bindings.vfio.vfio_irq_set;
import io.isthmus.bindings.vfio.vfio_region_info;
import io.isthmus.sys.Errno;
import io.isthmus.sys.VfioIoctl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The test twin of {@link VfioSys}: a kernel that answers VFIO calls with canned values (one container, group 7
 * holding device 0000:00:02.0 with a sparse BAR0) and records every call, so the container/group/device logic
 * is checked without /dev/vfio. It stands in for the kernel only; the code under test is the real one.
 */
final class CannedKernel implements VfioSys {
    final List<String> calls = new ArrayList<>();
    final Map<String, Integer> openErrors = new HashMap<>();
    int apiVersion = 0;
    boolean viable = true;
    int deviceFdError = 0;
    long[][] iovaRanges = {{0, 0xfedfffffL}, {0xfef00000L, 0xffffffffffffL}};
    private static final Map<Long, String> NAMES = new HashMap<>();

    static {
        for (var f : VfioIoctl.class.getFields()) {
            try {
                NAMES.putIfAbsent(f.getLong(null), f.getName()); // container numbers reuse device ones; first wins
            } catch (IllegalAccessException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    /** The device's config space (region 7 at 7 << 40): bytes 0, 1, 2, ... until written. */
    final byte[] config = new byte[256];
    /** Command-register bits that do not stick (a device that refuses them). */
    int stuckClearCommandBits = 0;

    {
        for (int i = 0; i < config.length; i++) {
            config[i] = (byte) i;
        }
    }

    private int nextFd = 10;
    private final Map<Integer, String> fds = new HashMap<>();
    /** IOVAs mapped for DMA and not yet unmapped (closing the container drops them all, as the kernel does). */
    final java.util.Set<Long> dmaMapped = new java.util.HashSet<>();

    /** The descriptors open in this kernel, by what they are. */
    java.util.Collection<String> openFds() {
        return List.copyOf(fds.values());
    }

    @Override
    public int open(String path) {
        calls.add("open " + path);
        Integer err = openErrors.get(path);
        if (err != null) {
            return -err;
        }
        if (!path.equals("/dev/vfio/vfio") && !path.equals("/dev/vfio/7")) {
            return -Errno.ENOENT;
        }
        fds.put(nextFd, path);
        return nextFd++;
    }

    @Override
    public int ioctl(int fd, long request, long arg) {
        String name = NAMES.getOrDefault(request, "ioctl?");
        calls.add(name + " " + fds.getOrDefault(fd, "?") + (arg != 0 ? " " + arg : ""));
        if (!fds.containsKey(fd)) {
            return -Errno.EBADF;
        }
        if (request == VfioIoctl.VFIO_GET_API_VERSION) {
            return apiVersion;
        }
        if (request == VfioIoctl.VFIO_CHECK_EXTENSION) {
            return arg == vfio_h.VFIO_TYPE1v2_IOMMU() || arg == vfio_h.VFIO_TYPE1_IOMMU() ? 1 : 0;
        }
        return 0; // SET_IOMMU, UNSET_CONTAINER, RESET
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
        String name = NAMES.getOrDefault(request, "ioctl?");
        calls.add(name + " " + fds.getOrDefault(fd, "?"));
        if (!fds.containsKey(fd)) {
            return -Errno.EBADF;
        }
        MemorySegment s = arg; // sized by the caller's allocation
        if (request == VfioIoctl.VFIO_GROUP_GET_STATUS) {
            vfio_group_status.flags(s, viable ? vfio_h.VFIO_GROUP_FLAGS_VIABLE() : 0);
        } else if (request == VfioIoctl.VFIO_IOMMU_GET_INFO) {
            InfoBuffers.iommuInfo(s, 0x1000L | 0x200000L, iovaRanges, 65535);
        } else if (request == VfioIoctl.VFIO_GROUP_GET_DEVICE_FD) {
            String dev = s.getString(0);
            if (deviceFdError != 0) {
                return -deviceFdError;
            }
            if (!dev.equals("0000:00:02.0")) {
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
                return -Errno.EINVAL; // vfio-pci's answer for the VGA region of a non-VGA device
            }
            if (index == 0) {
                InfoBuffers.regionInfo(s, 0, 0x100000, 0, new long[][] {{0, 0x1000}, {0x2000, 0xfe000}}, 0, 0);
            } else {
                vfio_region_info.flags(s, index == 7 ? vfio_h.VFIO_REGION_INFO_FLAG_READ()
                        | vfio_h.VFIO_REGION_INFO_FLAG_WRITE() : 0);
                vfio_region_info.size(s, index == 7 ? 256 : 0);
                vfio_region_info.offset(s, (long) index << 40);
            }
        } else if (request == VfioIoctl.VFIO_DEVICE_GET_IRQ_INFO) {
            int index = vfio_irq_info.index(s);
            if (index == 3) {
                return -Errno.EINVAL; // ERR on a conventional PCI function
            }
            vfio_irq_info.flags(s, vfio_h.VFIO_IRQ_INFO_EVENTFD() | (index == 0 ? vfio_h.VFIO_IRQ_INFO_MASKABLE()
                    | vfio_h.VFIO_IRQ_INFO_AUTOMASKED() : vfio_h.VFIO_IRQ_INFO_NORESIZE()));
            vfio_irq_info.count(s, index == 0 ? 1 : index == 1 ? 1 : index == 2 ? 0 : 1);
        } else if (request == VfioIoctl.VFIO_IOMMU_MAP_DMA) {
            calls.set(calls.size() - 1, calls.getLast() + String.format(" iova 0x%x size 0x%x",
                    vfio_iommu_type1_dma_map.iova(s), vfio_iommu_type1_dma_map.size(s)));
            dmaMapped.add(vfio_iommu_type1_dma_map.iova(s));
        } else if (request == VfioIoctl.VFIO_IOMMU_UNMAP_DMA) {
            calls.set(calls.size() - 1, calls.getLast() + String.format(" iova 0x%x size 0x%x",
                    vfio_iommu_type1_dma_unmap.iova(s), vfio_iommu_type1_dma_unmap.size(s)));
            dmaMapped.remove(vfio_iommu_type1_dma_unmap.iova(s));
        } else if (request == VfioIoctl.VFIO_DEVICE_SET_IRQS) {
            calls.set(calls.size() - 1, calls.getLast() + String.format(" flags 0x%x index %d start %d count %d",
                    vfio_irq_set.flags(s), vfio_irq_set.index(s), vfio_irq_set.start(s), vfio_irq_set.count(s)));
        }
        return 0;
    }

    @Override
    public long pread(int fd, MemorySegment buf, long offset) {
        calls.add(String.format("pread %s 0x%x %d", fds.get(fd), offset, buf.byteSize()));
        for (long i = 0; i < buf.byteSize(); i++) {
            long at = offset - (7L << 40) + i;
            buf.set(ValueLayout.JAVA_BYTE, i, at >= 0 && at < config.length ? config[(int) at] : (byte) (offset + i));
        }
        return buf.byteSize();
    }

    @Override
    public long pwrite(int fd, MemorySegment buf, long offset) {
        calls.add(String.format("pwrite %s 0x%x %d", fds.get(fd), offset, buf.byteSize()));
        for (long i = 0; i < buf.byteSize(); i++) {
            long at = offset - (7L << 40) + i;
            if (at >= 0 && at < config.length) {
                byte b = buf.get(ValueLayout.JAVA_BYTE, i);
                // The command register's low byte is at 4; a refused bit keeps its old value.
                config[(int) at] = at == 4 ? (byte) ((b & ~stuckClearCommandBits) | (config[4] & stuckClearCommandBits))
                        : b;
            }
        }
        return buf.byteSize();
    }

    @Override
    public MemorySegment mmap(Arena arena, int fd, long offset, long length, int prot, String what) {
        calls.add(String.format("mmap %s 0x%x 0x%x", fds.get(fd), offset, length));
        return arena.allocate(length); // ordinary memory stands in for the BAR
    }

    @Override
    public int close(int fd) {
        String what = fds.remove(fd);
        calls.add("close " + what);
        if ("/dev/vfio/vfio".equals(what)) {
            dmaMapped.clear();
        }
        return 0;
    }
}
