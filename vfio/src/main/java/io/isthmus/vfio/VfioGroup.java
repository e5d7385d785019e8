package io.isthmus.vfio;

import static io.isthmus.vfio.VfioException.Step.*;

import io.isthmus.bindings.vfio.vfio_group_status;
import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.sys.Errno;
import io.isthmus.sys.VfioIoctl;
import io.isthmus.vfio.pci.SysfsPci;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A VFIO group ({@code /dev/vfio/N}): the devices that share an IOMMU group, the unit of isolation. Made only by
 * {@link VfioContainer#group(int)}, which checks viability and attaches it.
 *
 * <p>Close order: {@link #close()} closes this group's devices first, then detaches the group from the container
 * and closes its fd. The order matters: while a device fd is open the kernel holds the group, and releasing the
 * group first would fail with EBUSY (rust-vmm documents the same rule).
 *
 * <p>Thread-safety: opening and closing devices is synchronized on the group. A device is open at most once per
 * group: {@link #device(String)} returns the open one.
 */
public final class VfioGroup implements AutoCloseable {
    private final VfioSys sys;
    private final VfioContainer container;
    private final KernelFd fd;
    private final int id;
    /** The open devices by name: one {@link VfioDevice} per device (see {@link #device(String)}). */
    private final Map<String, VfioDevice> devices = new LinkedHashMap<>();
    private boolean attached;

    /** The group's status flags ({@code VFIO_GROUP_GET_STATUS}). */
    public record Status(boolean viable, boolean containerSet) {}

    private VfioGroup(VfioSys sys, VfioContainer container, KernelFd fd, int id) {
        this.sys = sys;
        this.container = container;
        this.fd = fd;
        this.id = id;
    }

    static VfioGroup open(VfioSys sys, VfioContainer container, String devVfio, int id) {
        String path = devVfio + "/" + id;
        int r = sys.open(path);
        if (r < 0) {
            String hint = switch (-r) {
                case Errno.ENOENT -> path + " does not exist: no device of IOMMU group " + id
                        + " is bound to vfio-pci (isthmus vfio bind BDF)";
                case Errno.EBUSY -> path + " is busy: the group is already open, in this or another process"
                        + " (a group may be opened once); close it there first";
                case Errno.EACCES, Errno.EPERM -> path + ": permission denied; run as root or chown the node";
                default -> null;
            };
            throw VfioException.kernel(OPEN_GROUP, "open " + path, r, hint);
        }
        return new VfioGroup(sys, container, new KernelFd(sys, r, path), id);
    }

    /** The IOMMU group number. */
    public int id() {
        return id;
    }

    /** {@code VFIO_GROUP_GET_STATUS}. */
    public Status status() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = vfio_group_status.allocate(arena);
            vfio_group_status.argsz(st, (int) vfio_group_status.sizeof());
            int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_GROUP_GET_STATUS, st);
            if (r < 0) {
                throw VfioException.kernel(GROUP_GET_STATUS, "ioctl VFIO_GROUP_GET_STATUS on " + fd.name(), r);
            }
            int flags = vfio_group_status.flags(st);
            return new Status((flags & vfio_h.VFIO_GROUP_FLAGS_VIABLE()) != 0,
                    (flags & vfio_h.VFIO_GROUP_FLAGS_CONTAINER_SET()) != 0);
        }
    }

    void attach(int containerFd) {
        if (!status().viable()) {
            throw new VfioException(GROUP_NOT_VIABLE, "IOMMU group " + id + " is not viable: every device in it"
                    + " must be bound to vfio-pci or to no driver; it holds " + SysfsPci.system().describeGroup(id)
                    + ". Bind the others with 'isthmus vfio bind BDF' or unbind them");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfd = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_INT, containerFd);
            int r = sys.ioctl(fd.get(), VfioIoctl.VFIO_GROUP_SET_CONTAINER, cfd);
            if (r < 0) {
                throw VfioException.kernel(GROUP_SET_CONTAINER, "ioctl VFIO_GROUP_SET_CONTAINER on " + fd.name(), r);
            }
        }
        attached = true;
    }

    /** Opens the device named {@code address} in this group; see {@link #device(String)}. */
    public VfioDevice device(PciAddress address) {
        return device(address.toString());
    }

    /**
     * {@code VFIO_GROUP_GET_DEVICE_FD} for {@code name} (a PCI device's sysfs name, {@code 0000:00:02.0}), then
     * discovers its regions and interrupts. The device is closed with this group, or earlier by its own close.
     *
     * <p>While the device is open, calling this again returns the same {@link VfioDevice}, as
     * {@link VfioContainer#group(int)} does for groups. The kernel would hand out a second descriptor (Linux 6.1
     * does; it refuses only when another user holds the device), but both would drive one device: its interrupts,
     * its reset and its command register, with BARs mapped twice and unmapped by whichever closed first. After
     * the device's close, this opens it afresh.
     *
     * @throws VfioException {@code GroupGetDeviceFd} (EINVAL: not in this group or not bound to vfio-pci; EBUSY:
     *                       another user holds the device), or a discovery step
     */
    public synchronized VfioDevice device(String name) {
        if (fd.closed()) {
            throw new IllegalStateException("VFIO group " + id + " is closed");
        }
        VfioDevice open = devices.get(name);
        if (open != null) {
            return open;
        }
        int r;
        try (Arena arena = Arena.ofConfined()) {
            r = sys.ioctl(fd.get(), VfioIoctl.VFIO_GROUP_GET_DEVICE_FD, arena.allocateFrom(name));
        }
        if (r < 0) {
            String hint = switch (-r) {
                case Errno.EBUSY -> "device " + name + " is in use by another user (another process, or a kernel"
                        + " user such as iommufd); close it there first";
                case Errno.EINVAL, Errno.ENODEV -> "device " + name + " is not in IOMMU group " + id
                        + " or not bound to vfio-pci";
                default -> null;
            };
            throw VfioException.kernel(GROUP_GET_DEVICE_FD,
                    "ioctl VFIO_GROUP_GET_DEVICE_FD " + name + " on " + fd.name(), r, hint);
        }
        KernelFd dfd = new KernelFd(sys, r, "vfio device " + name);
        VfioDevice device;
        try {
            device = VfioDevice.discover(sys, this, dfd, name);
        } catch (RuntimeException e) {
            dfd.close();
            throw e;
        }
        devices.put(name, device);
        return device;
    }

    synchronized void forget(VfioDevice device) {
        devices.remove(device.name(), device);
    }

    @Override
    public void close() {
        synchronized (this) {
            // Devices first: an open device fd keeps the group busy (EBUSY on unset/close).
            for (VfioDevice d : devices.values().toArray(VfioDevice[]::new)) {
                d.close();
            }
            devices.clear();
            if (attached && !fd.closed()) {
                attached = false;
                // Best effort: closing the group fd detaches it anyway; the explicit unset reports problems early.
                sys.ioctl(fd.get(), VfioIoctl.VFIO_GROUP_UNSET_CONTAINER, 0L);
            }
            fd.close();
        }
        container.forget(this);
    }

    @Override
    public String toString() {
        return "VfioGroup[" + id + ", " + fd + "]";
    }
}
