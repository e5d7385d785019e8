package io.isthmus.vmm.machine;

import io.isthmus.kvm.Cpuid;
import io.isthmus.kvm.Kvm;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.vmm.acpi.AcpiTables;
import io.isthmus.vmm.acpi.PcieHostAml;
import io.isthmus.vmm.boot.BootState;
import io.isthmus.vmm.boot.GuestRam;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.device.AcpiGedRegs;
import io.isthmus.vmm.device.CmosRtc;
import io.isthmus.vmm.device.DebugExit;
import io.isthmus.vmm.device.FwCfg;
import io.isthmus.vmm.device.I8042Reset;
import io.isthmus.vmm.device.MachineControl;
import io.isthmus.vmm.device.Serial16550;
import io.isthmus.vmm.device.Unassigned;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.passthrough.VfioPassthrough;
import io.isthmus.vmm.passthrough.VfioPciFunction;
import io.isthmus.vmm.pci.IsthmusTestDevice;
import io.isthmus.vmm.pci.PcieHost;
import io.isthmus.vmm.pci.PcieLayout;

import io.isthmus.vmm.virtio.VirtioDevice;
import io.isthmus.vmm.virtio.VirtioDevices;

import java.io.IOException;
import java.io.PrintStream;

/**
 * Builds a {@link MicroVm} from a configuration, in the order KVM and QEMU's microvm need: the VM with its split
 * irqchip (before any vCPU), RAM as microvm lays it out (below 3 GiB, the rest from 4 GiB), the vCPUs, the interrupt
 * controllers, the devices, the ACPI tables, and the kernel loaded with the boot vCPU in its entry state. On any
 * failure, what was made is released before the exception leaves.
 *
 * <p>Stateless; thread-safe.
 */
final class MachineBuilder {
    /** KVM's identity-map page and TSS pages, in the hole the E820 map reserves at 0xfeffc000. */
    static final long IDENTITY_MAP = 0xfeffc000L, TSS = 0xfeffd000L;

    private MachineBuilder() {}

    /** What a built machine is made of. */
    record Parts(VmConfig config, Kvm kvm, Vm vm, GuestMemory memory, MemoryMap map, Vcpus vcpus,
                 Interrupts interrupts, DeviceManager devices, Serial16550 serial, SerialBackend serialBackend,
                 Unassigned.Reports unassigned, VmmLog log, Runnable boot) {}

    /** Devices ask the machine to exit or reset before it exists as an object: this forwards once it does. */
    private static final class ControlRef implements MachineControl {
        private volatile MachineControl target;

        @Override
        public void exit(int status, String why) {
            target.exit(status, why);
        }

        @Override
        public void reset(String why) {
            target.reset(why);
        }
    }

    static MicroVm build(VmConfig config, HostStdio stdio, PrintStream err, MicroVm.Booter booter) {
        String spec = config.serial().kind() == VmConfig.Chardev.Kind.FILE ? "file:" + config.serial().path()
                : config.serial().kind() == VmConfig.Chardev.Kind.UNIX ? "unix:" + config.serial().path()
                : config.serial().kind().name().toLowerCase();
        SerialBackend backend = SerialBackend.open(config.serial(), spec, stdio);
        Kvm kvm = null;
        Vm vm = null;
        GuestMemory memory = null;
        Vcpus vcpus = null;
        Interrupts interrupts = null;
        DeviceManager devices = null;
        try {
            MemoryMap map = MemoryMap.forRam(config.memBytes());
            kvm = Kvm.open();
            vm = kvm.createVm();
            vm.setIdentityMapAddr(IDENTITY_MAP);
            vm.setTssAddr(TSS);
            if (vm.checkExtension(Kvm.CAP_SPLIT_IRQCHIP) <= 0) {
                throw new IllegalStateException("this kernel's KVM has no split irqchip (KVM_CAP_SPLIT_IRQCHIP, Linux"
                        + " 4.4 and later), which microvm's user-space PIC, PIT and IOAPICs need; use a newer kernel");
            }
            vm.enableSplitIrqchip(Interrupts.IOAPIC_GSIS); // before any vCPU, as KVM requires
            GuestMemory.Builder mb = GuestMemory.builder().region(0, map.lowRam());
            if (map.highRam() > 0) {
                mb.region(MemoryMap.HIGH_RAM_BASE, map.highRam());
            }
            memory = mb.build();
            vm.addMemory(memory, 0);
            vcpus = new Vcpus(kvm, vm, config.cpus());

            // -d guest_errors or unimp: unassigned accesses go to the SLF4J log (-D file or stderr), rate-limited;
            // otherwise they are only counted, as QEMU prints nothing for them (a Linux guest probes hundreds of
            // ports). -d int: the interrupts this VMM injects (QEMU with KVM logs none: the kernel injects them).
            VmmLog log = config.logItems().isEmpty() ? null : VmmLog.open(config.logFile());
            boolean logInterrupts = log != null && config.logItems().contains("int");
            Unassigned.Reports unassigned = log != null && (config.logItems().contains("guest_errors")
                    || config.logItems().contains("unimp")) ? new Unassigned.Reports(log::guestError)
                    : new Unassigned.Reports(line -> { });
            GsiRoutes routes = new GsiRoutes(vm, GsiRoutes.capacity(vm, Interrupts.IOAPIC_GSIS));
            interrupts = new Interrupts(vm, routes, vcpus::kickBsp, logInterrupts ? log : null);

            ControlRef control = new ControlRef();
            devices = new DeviceManager(interrupts, memory, control);
            devices.add(interrupts);
            Serial16550 serial = new Serial16550(backend.out);
            devices.add(serial);
            for (VmConfig.DebugExit d : config.debugExits()) {
                devices.add(new DebugExit(d.iobase(), d.iosize()));
            }
            devices.add(new I8042Reset());
            devices.add(new CmosRtc(map.lowRam(), map.highRam()));
            devices.add(new AcpiGedRegs());
            FwCfg fwCfg = new FwCfg();
            devices.add(fwCfg);
            for (VmConfig.VirtioDeviceSpec virtio : config.virtioDevices()) {
                devices.add(new VirtioSlot(devices, openVirtio(virtio), err));
            }
            // -device vfio-pci: opened and given guest RAM for DMA now; closed after the PCI functions (added first).
            VfioPassthrough passthrough = config.vfioDevices().isEmpty() ? null
                    : VfioPassthrough.open(config.vfioDevices(), memory);
            if (passthrough != null) {
                devices.add(passthrough);
            }
            PcieHost pcie = config.pcie() ? pcieHost(config, kvm, vm, routes, map, unassigned, passthrough, err)
                    : null;
            if (pcie != null) {
                devices.add(pcie);
            }
            devices.seal(map, unassigned, new long[][] {{AcpiTables.LAPIC_BASE, 0x100000}, {IDENTITY_MAP, 0x4000}});
            if (backend.in != null) {
                serial.startInput(backend.in);
            }

            AcpiTables acpi = AcpiTables.build(config.cpus(), devices.virtioTransports(),
                    pcie == null ? null : PcieHostAml.of(pcie.layout()));
            GuestRam ram = guestRam(memory);
            GuestMemory mem = memory;
            Vcpus cpus = vcpus;
            Runnable boot = () -> {
                BootState s = booter.boot(map, ram);
                fwCfg.load(MicrovmFwCfg.items(config.cpus(), false, map, IDENTITY_MAP, acpi, s.fwCfg()));
                // The firmware's tables, where QEMU's firmware puts them (again after a reset: the guest owns RAM).
                mem.write(acpi.blobBase(), acpi.blob());
                mem.write(AcpiTables.RSDP_ADDRESS, acpi.rsdp());
                if (log != null && config.logItems().contains("cpu_reset")) {
                    log.info("CPU reset: " + s.mode() + " entry 0x" + Long.toHexString(s.rip()) + " eax=0x"
                            + Long.toHexString(s.rax()) + " ebx=0x" + Long.toHexString(s.rbx()) + " sp=0x"
                            + Long.toHexString(s.rsp()) + (s.mode() == BootState.Mode.REAL
                            ? " cs=0x" + Integer.toHexString(s.realModeCs()) + " ds=0x"
                            + Integer.toHexString(s.realModeDs()) : ""));
                }
                cpus.enter(s, mem);
            };
            boot.run();
            MicroVm machine = new MicroVm(new Parts(config, kvm, vm, memory, map, vcpus, interrupts, devices, serial,
                    backend, unassigned, log, boot), err);
            control.target = machine;
            return machine;
        } catch (RuntimeException | Error e) {
            // In the order a machine's close releases them: threads and devices, then the VM, then its memory.
            DeviceManager d = devices;
            closeAll(e, d == null ? null : d::closeAll, vcpus, interrupts, vm, memory, kvm, () -> {
                backend.restore.run();
                backend.close();
            });
            throw e;
        }
    }

    /**
     * {@code -M microvm,pcie=on}: the host bridge laid out for the vCPUs' physical address width, with the
     * {@code -device isthmus-testdev} and {@code -device vfio-pci} functions on it.
     */
    private static PcieHost pcieHost(VmConfig config, Kvm kvm, Vm vm, GsiRoutes routes, MemoryMap map,
                                     Unassigned.Reports unassigned, VfioPassthrough passthrough, PrintStream err) {
        Cpuid cpuid = kvm.supportedCpuid();
        int leaf = cpuid.find(0x80000008, 0);
        // Without the leaf a CPU has 36-bit physical addresses (Intel SDM, CPUID 0x80000008).
        PcieLayout layout = PcieLayout.microvm(leaf < 0 ? 36 : cpuid.eax(leaf) & 0xff);
        layout.checkRam(MemoryMap.HIGH_RAM_BASE + map.highRam());
        PcieHost pcie = new PcieHost(layout, new KvmMsiRouter(vm, routes), unassigned);
        for (VmConfig.TestDevice t : config.testDevices()) {
            pcie.add(t.devfn(), new IsthmusTestDevice(t.membar(), t.vectors()));
        }
        for (int i = 0; passthrough != null && i < passthrough.size(); i++) {
            // -d guest_errors: at the end, each passthrough function's VM exits at its BARs, on stderr.
            VfioPciFunction f = passthrough.function(i, vm,
                    config.logItems().contains("guest_errors") ? err::println : null);
            try {
                pcie.add(passthrough.devfn(i), f);
            } catch (IllegalArgumentException e) {
                f.close();
                throw new OptionException(config.vfioDevices().get(i).location(), f.name() + ": " + e.getMessage());
            }
        }
        return pcie;
    }

    /** The device a {@code -device virtio-*-device} names; its backend failing to open is QEMU's error. */
    private static VirtioDevice openVirtio(VmConfig.VirtioDeviceSpec spec) {
        try {
            return VirtioDevices.open(spec);
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    private static void closeAll(Throwable failure, AutoCloseable... parts) {
        for (AutoCloseable c : parts) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    failure.addSuppressed(suppressed);
                }
            }
        }
    }

    /** The loaders' view of guest RAM: bulk writes and a RAM check, nothing else. */
    private static GuestRam guestRam(GuestMemory mem) {
        return new GuestRam() {
            @Override
            public void write(long gpa, byte[] src, int off, int len) {
                if (off == 0 && len == src.length) {
                    mem.write(gpa, src);
                } else {
                    mem.write(gpa, java.util.Arrays.copyOfRange(src, off, off + len));
                }
            }

            @Override
            public boolean isRam(long gpa, long len) {
                return mem.isRam(gpa, len);
            }
        };
    }
}
