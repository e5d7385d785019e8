package io.isthmus.vmm.passthrough;

import io.isthmus.kvm.Vm;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestRegion;
import io.isthmus.sys.Errno;
import io.isthmus.vfio.PciAddress;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vfio.VfioException;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.device.Device;
import io.isthmus.vmm.device.Platform;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The machine's {@code -device vfio-pci} devices, opened before the guest starts: each checked in sysfs (a PCI
 * function, in an IOMMU group, bound to vfio-pci, its group viable, not given twice), opened through one VFIO
 * container (so devices whose groups are the same, or different, share one IOMMU address space, as QEMU does for
 * one guest), and all guest RAM mapped in that container at IOVA = guest-physical address, so the device's DMA
 * reaches guest RAM and nothing else. Every failure is an {@link OptionException} at the device's option, naming
 * the device and the reason, as QEMU's {@code vfio %s: ...} messages.
 *
 * <p>A {@link Device} only to be closed with the machine: added before the PCI host bridge, it is closed after
 * the functions (which disable their interrupts), and closing the container closes the devices, detaches the
 * groups (the devices stay bound to vfio-pci, reusable) and drops the DMA mappings.
 *
 * <p>Lifetime: from {@link #open} to {@link #close()}, the machine's. Thread-safety: built and closed on the
 * machine's building or main thread.
 */
public final class VfioPassthrough implements Device {
    private static final String NOT_VIABLE_HINT = "Please ensure all devices within the iommu_group are bound to"
            + " their vfio bus driver.";

    private final VfioContainer container;
    private final List<VmConfig.VfioPci> specs;
    private final List<VfioDevice> devices;
    private boolean closed;

    private VfioPassthrough(VfioContainer container, List<VmConfig.VfioPci> specs, List<VfioDevice> devices) {
        this.container = container;
        this.specs = specs;
        this.devices = devices;
    }

    /**
     * Checks and opens {@code specs} (at least one) with the host's sysfs and {@code /dev/vfio}, and maps
     * {@code memory} for their DMA.
     */
    public static VfioPassthrough open(List<VmConfig.VfioPci> specs, GuestMemory memory) {
        return open(specs, memory, SysfsPci.system(), VfioContainer::open);
    }

    /** {@link #open(List, GuestMemory)} with this sysfs tree and way to open a container (for tests). */
    static VfioPassthrough open(List<VmConfig.VfioPci> specs, GuestMemory memory, SysfsPci sysfs,
                                Supplier<VfioContainer> containers) {
        List<PciDevice> found = check(specs, sysfs);
        VfioContainer container = null;
        List<VfioDevice> opened = new ArrayList<>();
        try {
            for (int i = 0; i < specs.size(); i++) {
                VmConfig.VfioPci spec = specs.get(i);
                if (container == null) {
                    try {
                        container = containers.get();
                    } catch (VfioException | io.isthmus.sys.NativeException e) {
                        throw fail(spec, "cannot open the VFIO container " + VfioContainer.CONTAINER_PATH + ": "
                                + e.getMessage());
                    }
                }
                opened.add(openDevice(container, spec, found.get(i)));
            }
            for (GuestRegion r : memory.regions()) {
                try {
                    container.map(r.host(), r.start(), true, true);
                } catch (VfioException e) {
                    throw fail(specs.getFirst(), String.format("cannot map guest RAM [0x%x, 0x%x) for the device's"
                            + " DMA: %s", r.start(), r.end(), e.getMessage()));
                }
            }
            return new VfioPassthrough(container, List.copyOf(specs), List.copyOf(opened));
        } catch (RuntimeException | Error e) {
            if (container != null) {
                container.close();
            }
            throw e;
        }
    }

    /** The sysfs checks, in QEMU's order, before any VFIO call; returns each spec's device. */
    static List<PciDevice> check(List<VmConfig.VfioPci> specs, SysfsPci sysfs) {
        Set<String> names = new HashSet<>();
        List<PciAddress> addresses = new ArrayList<>();
        List<PciDevice> out = new ArrayList<>();
        for (VmConfig.VfioPci spec : specs) {
            if (!Files.exists(Path.of(spec.sysfsdev()))) {
                throw new OptionException(spec.location(), "vfio " + spec.sysfsdev() + ": no such host device: No"
                        + " such file or directory");
            }
            String name = spec.name();
            if (!names.add(name)) {
                throw fail(spec, "device is already attached (it is given twice)");
            }
            PciAddress address;
            try {
                address = PciAddress.parse(name);
            } catch (IllegalArgumentException e) {
                throw fail(spec, "not a PCI device (" + spec.sysfsdev() + " is not a PCI function's sysfs"
                        + " directory, named DDDD:BB:DD.F)");
            }
            PciDevice d = sysfs.device(address).orElse(null);
            if (d == null) {
                throw fail(spec, "not a PCI device (" + sysfs.path(address) + " does not exist)");
            }
            if (d.iommuGroup().isEmpty()) {
                throw fail(spec, "no iommu_group found: the host's IOMMU is off or missing (boot with"
                        + " intel_iommu=on or amd_iommu=on)");
            }
            if (!d.boundToVfio()) {
                throw fail(spec, "not bound to vfio-pci (its driver is " + d.driver().orElse("none")
                        + "): bind it first ('isthmus vfio bind " + d.address() + "' as root)");
            }
            addresses.add(address);
            out.add(d);
        }
        for (int i = 0; i < specs.size(); i++) {
            int group = out.get(i).iommuGroup().getAsInt();
            List<PciDevice> blockers = sysfs.viabilityBlockers(group, addresses);
            if (!blockers.isEmpty()) {
                throw fail(specs.get(i), "group " + group + " is not viable: " + String.join(", ",
                        blockers.stream().map(b -> b.address() + " is bound to " + b.driver().orElse("?")).toList())
                        + "\n" + NOT_VIABLE_HINT);
            }
        }
        return out;
    }

    private static VfioDevice openDevice(VfioContainer container, VmConfig.VfioPci spec, PciDevice pci) {
        int group = pci.iommuGroup().getAsInt();
        try {
            return container.device(pci);
        } catch (VfioException e) {
            throw switch (e.step()) {
                case OPEN_GROUP -> e.errno() == Errno.EBUSY
                        ? fail(spec, "group " + group + " is in use by another process (" + e.getMessage() + ")")
                        : fail(spec, "failed to open /dev/vfio/" + group + ": " + e.getMessage());
                case GROUP_NOT_VIABLE -> fail(spec, "group " + group + " is not viable (" + e.getMessage() + ")\n"
                        + NOT_VIABLE_HINT);
                case GROUP_GET_DEVICE_FD -> fail(spec, "error getting device from group " + group + ": "
                        + e.getMessage() + "\nVerify all devices in group " + group + " are bound to vfio-pci and"
                        + " not already in use");
                default -> fail(spec, e.getMessage());
            };
        }
    }

    private static OptionException fail(VmConfig.VfioPci spec, String why) {
        return new OptionException(spec.location(), "vfio " + spec.name() + ": " + why);
    }

    /** The devices, in command-line order, each with its spec. */
    public int size() {
        return devices.size();
    }

    /** Device {@code i}'s guest PCI address as given ({@code addr=}), or -1. */
    public int devfn(int i) {
        return specs.get(i).devfn();
    }

    /**
     * Device {@code i} as a PCI function whose BARs are mapped into {@code vm}.
     *
     * @throws OptionException naming the device when it cannot be passed through (a bridge, odd BAR sizes)
     */
    public VfioPciFunction function(int i, Vm vm) {
        return function(i, vm, null);
    }

    /**
     * Device {@code i} as a PCI function whose BARs are mapped into {@code vm}; when it closes, its VM exits at its
     * BARs ({@link VfioPciFunction#trapReport()}) go to {@code report} (null: nowhere).
     *
     * @throws OptionException naming the device when it cannot be passed through (a bridge, odd BAR sizes)
     */
    public VfioPciFunction function(int i, Vm vm, Consumer<String> report) {
        try {
            return new VfioPciFunction(vm, devices.get(i), report);
        } catch (IllegalArgumentException | VfioException e) {
            throw fail(specs.get(i), e.getMessage());
        }
    }

    @Override
    public void plug(Platform platform) {
        // Nothing on the machine's buses: the functions are on the PCI bus.
    }

    /** Closes the container: the devices (still bound to vfio-pci), the groups and the DMA mappings. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            container.close();
        }
    }
}
