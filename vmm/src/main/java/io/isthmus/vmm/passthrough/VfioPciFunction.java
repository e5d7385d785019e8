package io.isthmus.vmm.passthrough;

import io.isthmus.kvm.Vm;
import io.isthmus.sys.EventFd;
import io.isthmus.vfio.IrqInfo;
import io.isthmus.vfio.RegionInfo;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vmm.pci.BarMapper;
import io.isthmus.vmm.pci.MsiCapability;
import io.isthmus.vmm.pci.MsiVector;
import io.isthmus.vmm.pci.MsixCapability;
import io.isthmus.vmm.pci.Pci;
import io.isthmus.vmm.pci.PciBar;
import io.isthmus.vmm.pci.PciConfigSpace;
import io.isthmus.vmm.pci.PciFunction;
import io.isthmus.vmm.pci.PciSlot;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * {@code -device vfio-pci}: a host PCI function, opened through VFIO, on the guest's PCI bus.
 *
 * <p>Configuration space: the guest sees the device's own (ids, class, status, command, device-specific registers
 * are read from and written to the device through VFIO's config region) with these emulated in front of it, as
 * QEMU's vfio-pci does: the BARs (the guest places them; their addresses are not the host's), the expansion ROM
 * (hidden), the interrupt line and pin (pin 0: INTx is not offered, so the guest uses MSI or MSI-X), and the
 * capability list, which holds only the interrupt capability this VMM virtualizes: MSI-X when the device has it,
 * else MSI. Other capabilities (power management, PCI Express, extended capabilities) are hidden.
 *
 * <p>Interrupts: each MSI or MSI-X vector is an {@link io.isthmus.vmm.pci.MsiVector} whose eventfd is handed to
 * {@code VFIO_DEVICE_SET_IRQS} when the function is attached, so the device's interrupt reaches the guest through
 * the kernel (VFIO signals the eventfd, KVM's irqfd injects the guest's message) with no Java on the path. VFIO's
 * MSI is enabled from the start, not when the guest enables it; a vector the guest has not enabled, or has masked,
 * has no route, and an interrupt it signals then is lost (not left pending): a known gap.
 *
 * <p>BARs: {@link VfioBar} maps the device's mmap-able parts as KVM memory slots wherever the guest puts them.
 *
 * <p>Lifetime: made before the machine (the device already open), attached once, reset with the machine, closed
 * once after the vCPUs stopped; the device itself belongs to its container ({@link VfioPassthrough}), which closes
 * it. Thread-safety: as {@link PciFunction}.
 */
public final class VfioPciFunction implements PciFunction {
    private final Vm vm;
    private final VfioDevice device;
    private final VfioBar[] mappers = new VfioBar[Pci.BARS];
    private final HostFunctionLayout layout;
    private final PciConfigSpace config;
    private final MsiCapability msi;
    private final MsixCapability msix;
    private final List<VfioBar> bars = new ArrayList<>();
    /** Where {@link #close()} reports the trapped accesses, or null. */
    private final Consumer<String> report;
    private int irqIndex = -1;

    /**
     * The function for {@code device} (open), its BARs to be mapped into {@code vm}'s guest-physical space.
     *
     * @throws IllegalArgumentException when the device cannot be passed through (a bridge, a BAR that is not a
     *                                  power of two), saying why
     */
    VfioPciFunction(Vm vm, VfioDevice device, Consumer<String> report) {
        this.vm = vm;
        this.device = device;
        this.report = report;
        long[] sizes = new long[Pci.BARS];
        for (int i = 0; i < Pci.BARS && i < device.regions().size(); i++) {
            sizes[i] = device.region(i).size();
        }
        RegionInfo cfg = device.region(RegionInfo.CONFIG);
        this.layout = HostFunctionLayout.of(device.readConfig(), (int) Math.min(cfg.size(), Integer.MAX_VALUE),
                sizes, irqCount(device, IrqInfo.MSI), irqCount(device, IrqInfo.MSIX));
        this.config = new PciConfigSpace(layout.configSize(), layout.vendorId(), layout.deviceId(), layout.revision(),
                layout.classCode(), layout.subsystemVendorId(), layout.subsystemId());
        // The MSI-X capability needs its BARs declared, and a BAR's mapper needs the capability (to trap the table)
        // and the bus's memory space: the BARs are declared with mappers that find theirs in this array, which
        // attach fills.
        for (HostFunctionLayout.Bar b : layout.bars()) {
            config.addBar(PciBar.mapped(b.index(), b.size(), b.kind(), b.prefetchable(), new Late(mappers, b.index())));
        }
        HostFunctionLayout.Msix x = layout.msix();
        this.msix = x == null ? null : MsixCapability.add(config, x.vectors(), x.tableBar(), x.tableOffset(),
                x.pbaBar(), x.pbaOffset());
        this.msi = layout.msiVectors() == 0 ? null : MsiCapability.add(config, layout.msiVectors());
        config.setBacking(new Backing(device));
        config.emulate(Pci.STATUS, 2, Pci.STATUS_CAP_LIST | Pci.STATUS_INTERRUPT);
        config.emulate(Pci.CAPABILITY_LIST, 1, 0xff);
        config.emulate(Pci.ROM_ADDRESS, 4, -1);
        config.emulate(Pci.INTERRUPT_LINE, 2, 0xffff);
        if (msi != null) {
            config.emulate(msi.offset(), 4, -1);
            for (int at = msi.offset() + 4; at < msi.offset() + 0x18; at += 4) {
                config.emulate(at, 4, -1);
            }
        }
        if (msix != null) {
            for (int at = msix.offset(); at < msix.offset() + 12; at += 4) {
                config.emulate(at, 4, -1);
            }
        }
        if (layout.configSize() == Pci.EXPRESS_CONFIG_SIZE) {
            config.emulate(Pci.CONFIG_SIZE, 4, -1); // no extended capabilities
        }
    }

    private static int irqCount(VfioDevice d, int index) {
        return index < d.irqs().size() ? d.irq(index).count() : 0;
    }

    @Override
    public String name() {
        return "vfio " + device.name();
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    /** Its layout as read from the device. */
    HostFunctionLayout layout() {
        return layout;
    }

    /** BARs whose mmap-able parts become memory slots (no VM exit), for messages and tests. */
    int mappedBars() {
        return (int) bars.stream().filter(b -> b.mappedAreas() > 0).count();
    }

    /**
     * The guest's BAR accesses that exited to this VMM since the machine started, one VM exit each, per memory BAR:
     * {@code "vfio 0000:00:05.0: VM exits at BARs: BAR0 0 (MSI-X table/PBA 0)"} (the first figure counts the
     * accesses outside the MSI-X structures, which with the BAR mapped as memory slots take no exit).
     */
    public String trapReport() {
        StringBuilder s = new StringBuilder(name()).append(": VM exits at BARs:");
        for (VfioBar b : bars) {
            s.append(" BAR").append(b.index()).append(' ').append(b.trappedOther()).append(" (MSI-X table/PBA ")
                    .append(b.trappedMsix()).append(')');
        }
        return s.toString();
    }

    @Override
    public void attach(PciSlot slot) {
        String owner = name() + " " + slot.address();
        // The device's BARs are mapped into this process now, before the guest runs, so that an mmap failure is an
        // error at start-up rather than on the guest's first BAR write.
        for (HostFunctionLayout.Bar b : layout.bars()) {
            mappers[b.index()] = new VfioBar(vm, device, b.index(), b.size(), slot.memorySpace(), msix);
            bars.add(mappers[b.index()]);
        }
        if (msix != null) {
            msix.attach(slot.msi(), owner);
            enableIrqs(IrqInfo.MSIX, msix.vectors(), msix::vector);
        } else if (msi != null) {
            // The capability allocates vector 0, 1, ... in order: remember them to hand their eventfds to VFIO.
            List<MsiVector> taken = new ArrayList<>();
            msi.attach(o -> {
                MsiVector v = slot.msi().allocate(o);
                taken.add(v);
                return v;
            }, owner);
            enableIrqs(IrqInfo.MSI, msi.vectors(), taken::get);
        }
    }

    private void enableIrqs(int index, int count, java.util.function.IntFunction<MsiVector> v) {
        EventFd[] fds = new EventFd[count];
        for (int i = 0; i < count; i++) {
            fds[i] = v.apply(i).eventFd();
            if (fds[i] == null) {
                return; // a router without eventfds (a test's): nothing to hand to VFIO
            }
        }
        device.enableIrq(index, 0, fds);
        irqIndex = index;
    }

    /**
     * A system reset: the device's own reset through VFIO when it offers one, and its DMA and decoding stopped;
     * the bus then does the PCI reset of the emulated registers.
     */
    @Override
    public void reset() {
        if (device.canReset()) {
            device.reset();
        }
        device.clearCommandBits(Pci.COMMAND_MEMORY | Pci.COMMAND_MASTER);
    }

    /** Disables the device's interrupts; the device and its mappings are closed with the container. */
    @Override
    public void close() {
        if (report != null && !bars.isEmpty()) {
            report.accept(trapReport());
        }
        if (irqIndex >= 0) {
            try {
                device.disableIrq(irqIndex);
            } catch (RuntimeException ignored) {
                // the device may be gone with its container already
            }
            irqIndex = -1;
        }
        if (msix != null) {
            msix.close();
        }
        if (msi != null) {
            msi.close();
        }
    }

    /** A BAR's mapper, made after the BAR is declared (see the constructor). */
    private record Late(VfioBar[] mappers, int index) implements BarMapper {
        @Override
        public void map(long address) {
            mappers[index].map(address);
        }

        @Override
        public void unmap() {
            mappers[index].unmap();
        }
    }

    /** The device's configuration space through VFIO's config region. */
    private record Backing(VfioDevice device) implements PciConfigSpace.Backing {
        @Override
        public int read(int offset, int size) {
            return switch (size) {
                case 1 -> device.readConfig8(offset);
                case 2 -> device.readConfig16(offset);
                case 4 -> device.readConfig32(offset);
                default -> {
                    int v = 0;
                    for (int i = 0; i < size; i++) {
                        v |= device.readConfig8(offset + i) << (8 * i);
                    }
                    yield v;
                }
            };
        }

        @Override
        public void write(int offset, int size, int value) {
            switch (size) {
                case 1 -> device.writeConfig8(offset, value);
                case 2 -> device.writeConfig16(offset, value);
                case 4 -> device.writeConfig32(offset, value);
                default -> {
                    for (int i = 0; i < size; i++) {
                        device.writeConfig8(offset + i, value >>> (8 * i));
                    }
                }
            }
        }
    }
}
