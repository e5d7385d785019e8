package io.isthmus.vmm.config;

import java.util.List;

/**
 * A parsed, validated VMM command line: what to build and boot.
 *
 * @param memBytes      guest RAM in bytes ({@code -m}), already rounded as QEMU rounds it
 * @param cpus          vCPUs ({@code -smp})
 * @param kernel        {@code -kernel} path, or {@code null} for the embedded default guest
 * @param initrd        {@code -initrd} text as given (modules with arguments, {@code ,,} escapes), or null
 * @param append        {@code -append} text, or {@code null}
 * @param serial        where COM1 goes
 * @param noReboot      {@code -no-reboot}: a guest reset exits instead
 * @param startPaused   {@code -S}: vCPUs wait for QMP {@code cont}
 * @param name          {@code -name}, or {@code null}
 * @param debugExits    {@code -device isa-debug-exit} instances
 * @param qmp           the QMP socket, or {@code null}
 * @param logItems      {@code -d} items
 * @param logFile       {@code -D} path, or {@code null}
 * @param virtioDevices {@code -device virtio-blk-device} and {@code virtio-rng-device}, in command-line order
 *                      (QEMU microvm puts the first on its last virtio-mmio transport, the next on the one below)
 * @param pcie          {@code -M microvm,pcie=on}: the PCI Express host bridge (off by default, as in QEMU)
 * @param testDevices   {@code -device isthmus-testdev} instances, on the PCI bus
 * @param vfioDevices   {@code -device vfio-pci} host devices passed through to the guest, on the PCI bus
 */
public record VmConfig(long memBytes, int cpus, String kernel, String initrd, String append, Chardev serial,
                       boolean noReboot, boolean startPaused, String name, List<DebugExit> debugExits,
                       QmpSocket qmp, List<String> logItems, String logFile, List<VirtioDeviceSpec> virtioDevices,
                       boolean pcie, List<TestDevice> testDevices, List<VfioPci> vfioDevices) {

    /** A configuration without passthrough devices. */
    public VmConfig(long memBytes, int cpus, String kernel, String initrd, String append, Chardev serial,
                    boolean noReboot, boolean startPaused, String name, List<DebugExit> debugExits,
                    QmpSocket qmp, List<String> logItems, String logFile, List<VirtioDeviceSpec> virtioDevices,
                    boolean pcie, List<TestDevice> testDevices) {
        this(memBytes, cpus, kernel, initrd, append, serial, noReboot, startPaused, name, debugExits, qmp, logItems,
                logFile, virtioDevices, pcie, testDevices, List.of());
    }

    /** A configuration without virtio devices and without PCI. */
    public VmConfig(long memBytes, int cpus, String kernel, String initrd, String append, Chardev serial,
                    boolean noReboot, boolean startPaused, String name, List<DebugExit> debugExits,
                    QmpSocket qmp, List<String> logItems, String logFile) {
        this(memBytes, cpus, kernel, initrd, append, serial, noReboot, startPaused, name, debugExits, qmp, logItems,
                logFile, List.of());
    }

    /** A configuration without PCI. */
    public VmConfig(long memBytes, int cpus, String kernel, String initrd, String append, Chardev serial,
                    boolean noReboot, boolean startPaused, String name, List<DebugExit> debugExits,
                    QmpSocket qmp, List<String> logItems, String logFile, List<VirtioDeviceSpec> virtioDevices) {
        this(memBytes, cpus, kernel, initrd, append, serial, noReboot, startPaused, name, debugExits, qmp, logItems,
                logFile, virtioDevices, false, List.of());
    }

    /** A character backend ({@code -serial}): stdio, null, a file, or a UNIX socket. */
    public record Chardev(Kind kind, String path, boolean server, boolean waitForClient) {
        /** Backend kinds this VMM implements. */
        public enum Kind { STDIO, NULL, FILE, UNIX, NONE }
    }

    /** {@code -device isa-debug-exit,iobase=,iosize=}. */
    public record DebugExit(int iobase, int iosize) {}

    /**
     * {@code -device isthmus-testdev[,addr=SLOT[.FN]][,membar=SIZE][,vectors=N]}.
     *
     * @param devfn   the PCI address as device and function number, or -1 for the first free slot
     * @param membar  the size of its 64-bit prefetchable BAR2
     * @param vectors its MSI-X vectors
     */
    public record TestDevice(int devfn, long membar, int vectors) {}

    /**
     * {@code -device vfio-pci,host=DDDD:BB:DD.F} or {@code -device vfio-pci,sysfsdev=PATH}: a host PCI function,
     * bound to vfio-pci, assigned to the guest.
     *
     * @param location the option as given, for QEMU-style messages ({@code "-device vfio-pci,host=..."})
     * @param sysfsdev the function's sysfs directory ({@code /sys/bus/pci/devices/DDDD:BB:DD.F} for {@code host=})
     * @param devfn    the guest PCI address as device and function number, or -1 for the first free slot
     */
    public record VfioPci(String location, String sysfsdev, int devfn) {
        /** The device's name as QEMU gives it: the last component of its sysfs path ("0000:00:04.0"). */
        public String name() {
            java.nio.file.Path f = java.nio.file.Path.of(sysfsdev).getFileName();
            return f == null ? sysfsdev : f.toString();
        }
    }

    /** {@code -qmp unix:PATH,server=on,wait=off}. */
    public record QmpSocket(String path, boolean waitForClient) {}

    /** A virtio device on a virtio-mmio transport ({@code -device virtio-*-device}). */
    public sealed interface VirtioDeviceSpec permits VirtioBlkSpec, VirtioRngSpec, VgpuSpec {}

    /**
     * {@code -device virtio-blk-device,drive=ID[,serial=S]} on {@code -drive file=PATH,format=raw,if=none,id=ID}.
     *
     * @param drive    the drive's id
     * @param file     the raw image, as given (checked to be a regular file the VMM may open)
     * @param readOnly {@code readonly=on}: opened read-only, and the guest sees a read-only disk
     * @param serial   what the guest's GET_ID gets (at most 20 bytes are used), or {@code null}
     */
    public record VirtioBlkSpec(String drive, String file, boolean readOnly, String serial)
            implements VirtioDeviceSpec {}

    /** {@code -device virtio-rng-device}: entropy from the host's {@code /dev/urandom}. */
    public record VirtioRngSpec() implements VirtioDeviceSpec {}

    /**
     * {@code -device isthmus-vgpu[,id=ID][,weight=N][,memory=SIZE][,cap=PERCENT][,engine=sim|host|cuda]}: a paravirtual vGPU
     * (docs/vgpu-device.md) with its share of the process's engine.
     *
     * @param engine      the engine every vGPU of this process naming it shares: {@code host} or {@code cuda}
     * @param weight      its scheduling weight, 1 to {@link io.isthmus.sched.VGpuConfig#MAX_WEIGHT}
     * @param memoryBytes its device-memory quota
     * @param capPercent  the most of the engine's time it may use, 1 to 100 (100: no cap)
     */
    public record VgpuSpec(String engine, int weight, long memoryBytes, int capPercent, String id)
            implements VirtioDeviceSpec {}
}
