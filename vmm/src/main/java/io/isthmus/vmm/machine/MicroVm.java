package io.isthmus.vmm.machine;

import io.isthmus.kvm.Cpuid;
import io.isthmus.kvm.Kvm;
import io.isthmus.kvm.Lapic;
import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Regs;
import io.isthmus.kvm.Sregs;
import io.isthmus.kvm.Vcpu;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.EntryHook;
import io.isthmus.kvm.run.ExitDispatcher;
import io.isthmus.kvm.run.ExitHandler;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.kvm.run.VcpuThread;
import io.isthmus.kvm.x86.CpuModes;
import io.isthmus.sys.Libc;
import io.isthmus.vmm.boot.BootState;
import io.isthmus.vmm.boot.GuestRam;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.device.AcpiGedRegs;
import io.isthmus.vmm.device.CmosRtc;
import io.isthmus.vmm.device.DebugExit;
import io.isthmus.vmm.device.EmptyVirtioMmio;
import io.isthmus.vmm.device.I8042Reset;
import io.isthmus.vmm.device.Ioapic;
import io.isthmus.vmm.device.MachineControl;
import io.isthmus.vmm.device.Pic8259;
import io.isthmus.vmm.device.Pit8254;
import io.isthmus.vmm.device.Serial16550;
import io.isthmus.vmm.device.Unassigned;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A microvm-like machine on KVM: RAM laid out as QEMU's microvm lays it out, interrupts as QEMU microvm wires them
 * with KVM (a split irqchip: the LAPICs in the kernel; the 8259 PIC pair, the IOAPIC and the 8254 PIT emulated
 * here), COM1, the isa-debug-exit devices asked for, an i8042 reset line, a CMOS RTC, microvm's ACPI sleep/reset
 * registers and its empty virtio-mmio transports; one {@link VcpuThread} per vCPU.
 *
 * <p>ISA interrupts reach both the PIC and the IOAPIC (ISA IRQ 0 on IOAPIC pin 2, as QEMU's GSI wiring). The PIC's
 * output is injected into the boot vCPU with {@code KVM_INTERRUPT} before it enters the guest, once the guest has
 * made its LAPIC's LINT0 ExtINT: QEMU microvm leaves LINT0 masked at reset (no firmware sets up virtual-wire mode;
 * its {@code info lapic} shows LVT0 0x00010000), and so does this machine. The IOAPIC sends MSIs to the in-kernel
 * LAPICs, with its pins' routes installed as GSI routes so that the kernel reports EOIs of level-triggered
 * vectors.
 *
 * <p>Lifecycle: {@link #create} builds everything and loads the kernel through a {@link Booter}; {@link #run}
 * starts the vCPUs and blocks on the calling thread until the guest (or QMP) ends the machine, returning the exit
 * status QEMU would exit with. Resets are handled on that thread: vCPUs stop, the kernel is loaded again, vCPUs
 * restart. When the guest ends the machine (isa-debug-exit, ACPI power-off) its serial output stops at once and
 * every vCPU is asked to stop, as QEMU's {@code exit()} from the vCPU thread would; {@link #close()} then releases
 * everything, so a process may run many machines, one after another or side by side. Only the command line's
 * entry point turns the status into the process's exit status.
 *
 * <p>Thread-safe: QMP calls {@link #stop}, {@link #cont}, {@link #systemReset} and {@link #quit} from its own
 * thread; devices call {@link MachineControl} from vCPU threads.
 */
public final class MicroVm implements MachineControl, AutoCloseable {
    /** Identity-map page and TSS pages, in the hole the E820 map reserves at 0xfeffc000. */
    private static final long IDENTITY_MAP = 0xfeffc000L, TSS = 0xfeffd000L;
    private static final long GDT_ADDR = 0x500;
    private static final int LVT_MASKED = 1 << 16;
    /** IA32_APIC_BASE after reset: the default address, enabled; BSP is bit 8. */
    private static final long APIC_BASE_RESET = 0xfee00000L | 1 << 11, APIC_BASE_BSP = 1 << 8;
    private static final int COM1 = 0x3f8, COM1_IRQ = 4;
    /** An exit event that stands for QMP quit (not a status a guest can produce: those are 0 to 255). */
    private static final int QUIT = -2;

    /** Loads the kernel into RAM and returns the entry state; called at creation and on each reset. */
    @FunctionalInterface
    public interface Booter {
        BootState boot(MemoryMap map, GuestRam ram);
    }

    /** The run state QMP's query-status reports. */
    public enum RunState { PRELAUNCH, RUNNING, PAUSED, SHUTDOWN }

    private sealed interface Event permits ExitEvent, ResetEvent {}
    private record ExitEvent(int status) implements Event {}
    private record ResetEvent(String why, boolean guest) implements Event {}

    private final VmConfig config;
    private final PrintStream err;
    private final Kvm kvm;
    private final Vm vm;
    private final GuestMemory memory;
    private final MemoryMap map;
    private final GuestRam ram;
    private final Booter booter;
    private final Serial16550 serial;
    private final SerialBackend serialBackend;
    private final Runnable restoreTerminal;
    private final Pic8259 pic;
    private final Ioapic ioapic;
    private final Pit8254 pit;
    private final Unassigned.Reports unassigned;
    private final VmmLog log;
    private final boolean logInterrupts;
    private final ExitDispatcher dispatcher;
    private final List<Vcpu> vcpus = new ArrayList<>();
    /** Each vCPU's LAPIC in QEMU's reset state (KVM's, LVT0 masked): what a system reset puts back. */
    private final List<Lapic> resetLapics = new ArrayList<>();
    private final List<VcpuThread> threads = new CopyOnWriteArrayList<>();
    private final List<MachineListener> listeners = new CopyOnWriteArrayList<>();
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final int[] vcpuTids;
    private volatile RunState state;
    private volatile boolean launched;
    /** Set by the first {@link #finish}: the machine is ending and no vCPU may be started again. */
    private final AtomicBoolean ending = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    private MicroVm(VmConfig config, PrintStream err, Booter booter, SerialBackend serialBackend) {
        this.config = config;
        this.err = err;
        this.booter = booter;
        this.map = MemoryMap.forRam(config.memBytes());
        this.kvm = Kvm.open();
        Vm v = null;
        GuestMemory m = null;
        try {
            v = kvm.createVm();
            v.setIdentityMapAddr(IDENTITY_MAP);
            v.setTssAddr(TSS);
            if (v.checkExtension(Kvm.CAP_SPLIT_IRQCHIP) <= 0) {
                throw new IllegalStateException("this kernel's KVM has no split irqchip (KVM_CAP_SPLIT_IRQCHIP, Linux"
                        + " 4.4 and later), which microvm's user-space PIC, PIT and IOAPIC need; use a newer kernel");
            }
            v.enableSplitIrqchip(Ioapic.PINS);
            GuestMemory.Builder b = GuestMemory.builder().region(0, map.lowRam());
            if (map.highRam() > 0) {
                b.region(MemoryMap.HIGH_RAM_BASE, map.highRam());
            }
            m = b.build();
            v.addMemory(m, 0);
        } catch (RuntimeException e) {
            if (m != null) {
                m.close();
            }
            if (v != null) {
                v.close();
            }
            kvm.close();
            throw e;
        }
        this.vm = v;
        this.memory = m;
        // Everything made from here on is released if a later step fails (a kernel the loader refuses, a failing
        // ioctl): found by FailNthBootTest, which saw the VM, its memory and /dev/kvm left open.
        Serial16550 serialMade = null;
        Pit8254 pitMade = null;
        try {
            GuestMemory mem = m;
            this.ram = new GuestRam() {
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
            // -d guest_errors or unimp: unassigned accesses go to the SLF4J log (-D file or stderr); -d int: the
            // interrupts this VMM injects (QEMU with KVM logs none: the kernel injects them there).
            this.log = config.logItems().isEmpty() ? null : VmmLog.open(config.logFile());
            this.logInterrupts = log != null && config.logItems().contains("int");
            this.pic = new Pic8259(this::kickBsp);
            this.ioapic = new Ioapic(new IoapicRoutes(v, logInterrupts ? log : null));
            this.pit = pitMade = new Pit8254(level -> isaIrq(0, level), System::nanoTime);
            this.serial = serialMade = new Serial16550(serialBackend.out, level -> isaIrq(COM1_IRQ, level));
            this.serialBackend = serialBackend;
            this.restoreTerminal = serialBackend.restore;
            this.unassigned = log != null && (config.logItems().contains("guest_errors")
                    || config.logItems().contains("unimp")) ? new Unassigned.Reports(log::guestError)
                    : new Unassigned.Reports(err);
            PioBus pio = new PioBus();
            MmioBus mmio = new MmioBus();
            pio.insert(COM1, 8, serial, "serial");
            for (VmConfig.DebugExit d : config.debugExits()) {
                pio.insert(d.iobase(), d.iosize(), new DebugExit(this), "isa-debug-exit");
            }
            I8042Reset i8042 = new I8042Reset(this);
            pio.insert(0x60, 1, i8042, "i8042");
            pio.insert(0x64, 1, i8042, "i8042");
            pio.insert(0x70, 2, new CmosRtc(map.lowRam(), map.highRam()), "rtc");
            pio.insert(0x20, 2, startsPitTimer(pic.master()), "pic");
            pio.insert(0xa0, 2, startsPitTimer(pic.slave()), "pic");
            pio.insert(0x4d0, 2, startsPitTimer(pic.elcr()), "elcr");
            pio.insert(0x40, 4, pit.ports(), "pit");
            // No port 0x61: QEMU microvm has no PC speaker, the port reads all ones there (checked by the irq16 guest).
            mmio.insert(Ioapic.BASE, 0x1000, startsPitTimer(ioapic), "ioapic");
            mmio.insert(AcpiGedRegs.BASE, AcpiGedRegs.SIZE, new AcpiGedRegs(this), "acpi-ged-regs");
            mmio.insert(EmptyVirtioMmio.BASE, EmptyVirtioMmio.STRIDE * EmptyVirtioMmio.COUNT, new EmptyVirtioMmio(),
                    "virtio-mmio");
            // Every gap gets a reporting filler so that no access goes unseen; the LAPICs' page never exits to user
            // space (the kernel's LAPIC owns it).
            fillGaps(pio, new long[][] {{COM1, 8}, {0x60, 1}, {0x64, 1}, {0x70, 2}, {0x20, 2}, {0xa0, 2}, {0x4d0, 2},
                    {0x40, 4}}, config, 0, 0x10000, true);
            long lowEnd = map.lowRam();
            long[][] mmioUsed = {{AcpiGedRegs.BASE, AcpiGedRegs.SIZE},
                    {EmptyVirtioMmio.BASE, EmptyVirtioMmio.STRIDE * EmptyVirtioMmio.COUNT},
                    {0xfec00000L, 0x1000}, {0xfee00000L, 0x100000}, {IDENTITY_MAP, 0x4000}};
            fillGaps(mmio, mmioUsed, null, lowEnd, MemoryMap.HIGH_RAM_BASE, false);
            long highEnd = MemoryMap.HIGH_RAM_BASE + map.highRam();
            mmio.insert(highEnd, (1L << 52) - highEnd, new Unassigned("MMIO", highEnd, false, unassigned),
                    "unassigned");
            this.dispatcher = new ExitDispatcher(pio, mmio);
            if (serialBackend.in != null) {
                serial.startInput(serialBackend.in);
            }
            this.vcpuTids = new int[config.cpus()];
            Cpuid supported = kvm.supportedCpuid();
            for (int i = 0; i < config.cpus(); i++) {
                Vcpu c = vm.createVcpu(i);
                c.setCpuid2(cpuidFor(supported, i));
                vcpus.add(c);
                // QEMU's LAPIC reset state (apic_init_reset): every LVT masked. KVM's own leaves the boot vCPU's LINT0
                // as ExtINT (KVM_X86_QUIRK_LINT0_REENABLED), which would let PIC interrupts in where QEMU's do not.
                Lapic reset = c.getLapic().set(Lapic.LVT0, LVT_MASKED);
                c.setLapic(reset);
                resetLapics.add(reset);
            }
            this.state = config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING;
            boot();
        } catch (RuntimeException | Error e) {
            if (serialMade != null) {
                serialMade.close();
            }
            if (pitMade != null) {
                pitMade.close();
            }
            v.close();
            m.close();
            kvm.close();
            throw e;
        }
    }

    private void fillGaps(io.isthmus.kvm.bus.Bus bus, long[][] used, VmConfig cfg, long from, long to, boolean pio) {
        TreeMap<Long, Long> ranges = new TreeMap<>();
        for (long[] u : used) {
            ranges.put(u[0], u[1]);
        }
        if (cfg != null) {
            for (VmConfig.DebugExit d : cfg.debugExits()) {
                ranges.put((long) d.iobase(), (long) d.iosize());
            }
        }
        long at = from;
        for (var e : ranges.entrySet()) {
            long base = e.getKey(), end = base + e.getValue();
            if (end <= from || base >= to) {
                continue;
            }
            if (base > at) {
                bus.insert(at, base - at, new Unassigned(pio ? "PIO" : "MMIO", at, pio, unassigned), "unassigned");
            }
            at = Math.max(at, end);
        }
        if (at < to) {
            bus.insert(at, to - at, new Unassigned(pio ? "PIO" : "MMIO", at, pio, unassigned), "unassigned");
        }
    }

    /** CPUID as KVM supports it, with this vCPU's APIC id in leaves 1 and 0xb. */
    private static Cpuid cpuidFor(Cpuid supported, int id) {
        Cpuid c = Cpuid.copyOf(supported, supported.size());
        int l1 = c.find(1, 0);
        if (l1 >= 0) {
            c.set(l1, c.eax(l1), (c.ebx(l1) & 0x00ffffff) | id << 24, c.ecx(l1), c.edx(l1));
        }
        for (int sub = 0; sub < 2; sub++) {
            int lb = c.find(0xb, sub);
            if (lb >= 0) {
                c.set(lb, c.eax(lb), c.ebx(lb), c.ecx(lb), id);
            }
        }
        return c;
    }

    /**
     * Builds the machine and loads the kernel; throws with a clear message when anything fails, having released
     * what it made.
     *
     * @param stdio the host streams {@code -serial stdio} uses
     * @param err   where the machine reports (unassigned accesses, a vCPU that failed)
     */
    public static MicroVm create(VmConfig config, HostStdio stdio, PrintStream err, Booter booter) {
        String spec = config.serial().kind() == VmConfig.Chardev.Kind.FILE ? "file:" + config.serial().path()
                : config.serial().kind() == VmConfig.Chardev.Kind.UNIX ? "unix:" + config.serial().path()
                : config.serial().kind().name().toLowerCase();
        SerialBackend backend = SerialBackend.open(config.serial(), spec, stdio);
        try {
            return new MicroVm(config, err, booter, backend);
        } catch (RuntimeException | Error e) {
            backend.restore.run();
            backend.close();
            throw e;
        }
    }

    private void boot() {
        BootState s = booter.boot(map, ram);
        if (log != null && config.logItems().contains("cpu_reset")) {
            log.info("CPU reset: " + s.mode() + " entry 0x" + Long.toHexString(s.rip()) + " eax=0x"
                    + Long.toHexString(s.rax()) + " ebx=0x" + Long.toHexString(s.rbx()) + " sp=0x"
                    + Long.toHexString(s.rsp()) + (s.mode() == BootState.Mode.REAL
                    ? " cs=0x" + Integer.toHexString(s.realModeCs()) + " ds=0x" + Integer.toHexString(s.realModeDs()) : ""));
        }
        Vcpu bsp = vcpus.get(0);
        switch (s.mode()) {
            case PROTECTED_FLAT -> {
                CpuModes.protectedMode32(bsp, memory, GDT_ADDR, s.rip());
                Regs r = bsp.getRegs();
                bsp.setRegs(r.rax(s.rax()).rbx(s.rbx()).rcx(s.rcx()).rdx(s.rdx()).rsi(s.rsi()).rsp(s.rsp()));
                // CR0 as QEMU's firmware leaves it for Multiboot and PVH: PE | ET, caches on (CD and NW, set at
                // reset, cleared).
                var sr = bsp.getSregs();
                bsp.setSregs(sr.cr0(Sregs.CR0_PE | Sregs.CR0_ET));
            }
            case REAL -> {
                CpuModes.realMode(bsp, s.realModeCs(), (int) s.rip());
                Regs r = bsp.getRegs();
                bsp.setRegs(r.rsp(s.rsp()));
                if (s.realModeDs() != 0) {
                    var sr = bsp.getSregs();
                    sr.dataSegments(io.isthmus.kvm.SegmentRegister.real(s.realModeDs(), 3));
                    bsp.setSregs(sr);
                }
            }
            case LONG -> {
                long tables = 0x9000 - CpuModes.pageTableBytes(4) - 0x1000;
                CpuModes.longMode(bsp, memory, GDT_ADDR, tables & ~0xfffL, 4, s.rip());
                Regs r = bsp.getRegs();
                bsp.setRegs(r.rsi(s.rsi()).rax(s.rax()).rbx(s.rbx()).rsp(s.rsp()));
            }
        }
    }

    // ---- interrupts ----

    /** An ISA interrupt line: to the PIC's input {@code irq} and the IOAPIC's pin (IRQ 0 on pin 2, as QEMU). */
    private void isaIrq(int irq, boolean level) {
        pic.setIrq(irq, level);
        ioapic.setIrq(irq == 0 ? 2 : irq, level);
    }

    /**
     * {@code device}, whose first access also starts the PIT's timer thread: the PIT ticks from power-on, as
     * QEMU's, but its interrupts only matter once the guest touches an interrupt controller, so a guest that never
     * does costs no thread (the PIT delivers the transitions already due when it starts).
     */
    private BusDevice startsPitTimer(BusDevice device) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                pit.startTimer();
                return device.read(offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                pit.startTimer();
                device.write(offset, size, value);
            }
        };
    }

    /** The PIC's INTR rose: the boot vCPU must leave the guest (or its in-kernel HLT) to have it injected. */
    private void kickBsp() {
        // One snapshot of the list: startThreads may clear and refill it on the main thread meanwhile.
        for (VcpuThread bsp : threads) {
            bsp.kick();
            return;
        }
    }

    /**
     * Before each entry of the boot vCPU: a pending PIC interrupt is acknowledged and injected when the guest can
     * take it, or KVM is asked to exit as soon as it can (an interrupt window). Allocation-free.
     */
    private void injectPic(Vcpu vcpu, KvmRun run) {
        if (!pic.hasInterrupt()) {
            run.requestInterruptWindow(false);
        } else if (run.readyForInterruptInjection()) {
            int vector = pic.acknowledge();
            int r = vcpu.interruptRaw(vector);
            if (logInterrupts) {
                log.interrupt("PIC: vector 0x" + Integer.toHexString(vector) + " injected into vCPU 0"
                        + (r < 0 ? " failed: errno " + -r : ""));
            }
            run.requestInterruptWindow(false);
        } else {
            run.requestInterruptWindow(true);
        }
    }

    /**
     * The IOAPIC's way into KVM: interrupts as {@code KVM_SIGNAL_MSI}, and each pin's redirection entry mirrored
     * as the GSI route of the same number, which is how the kernel learns which vectors are level-triggered (their
     * EOIs come back as {@code KVM_EXIT_IOAPIC_EOI}). Thread-safe: synchronized.
     */
    private static final class IoapicRoutes implements Ioapic.Output {
        private final Vm vm;
        private final VmmLog log; // null unless -d int
        private final long[] addresses = new long[Ioapic.PINS];
        private final int[] data = new int[Ioapic.PINS];
        private final boolean[] present = new boolean[Ioapic.PINS];

        IoapicRoutes(Vm vm, VmmLog log) {
            this.vm = vm;
            this.log = log;
        }

        @Override
        public synchronized void route(int pin, long msiAddress, int msiData, boolean masked) {
            // Only masked pins at reset: nothing to install. Every table change costs the kernel an SRCU grace
            // period, so unchanged tables are not sent again.
            boolean installed = !masked;
            boolean changed = present[pin] != installed
                    || installed && (addresses[pin] != msiAddress || data[pin] != msiData);
            addresses[pin] = msiAddress;
            data[pin] = msiData;
            present[pin] = installed;
            if (changed) {
                vm.setMsiRoutes(addresses, data, present);
            }
        }

        @Override
        public void deliver(long msiAddress, int msiData) {
            boolean delivered = vm.signalMsi(msiAddress, msiData);
            if (log != null) {
                log.interrupt("IOAPIC: vector 0x" + Integer.toHexString(msiData & 0xff) + " ("
                        + ((msiData & 1 << 15) != 0 ? "level" : "edge") + ") to APIC 0x"
                        + Long.toHexString(msiAddress >>> 12 & 0xff) + (delivered ? "" : ", blocked by the guest"));
            }
        }
    }

    /** Adds a listener for lifecycle events. */
    public void addListener(MachineListener l) {
        listeners.add(l);
    }

    private void emit(String event, boolean guest, String reason) {
        for (MachineListener l : listeners) {
            l.onEvent(event, guest, reason);
        }
    }

    /**
     * Starts the vCPUs (paused under {@code -S}) and serves machine events until the machine ends; returns the
     * status QEMU would exit with. The vCPUs have been asked to stop when it returns; {@link #close()} waits for
     * them. Called once.
     */
    public int run() {
        startThreads(config.startPaused());
        try {
            while (true) {
                Event e = events.poll(50, TimeUnit.MILLISECONDS);
                if (e == null) {
                    VcpuThread bsp = threads.get(0);
                    if (!ending.get() && bsp.state() == VcpuThread.State.FINISHED) {
                        VcpuExit x = bsp.awaitExit(null);
                        if (x.reason() != VcpuExit.Reason.STOPPED) {
                            events.add(onVcpuFinished(x));
                        }
                    }
                    continue;
                }
                switch (e) {
                    case ExitEvent x -> {
                        if (x.status() == QUIT) {
                            // After any reset still queued, as QEMU's main loop orders them.
                            state = RunState.SHUTDOWN;
                            emit("SHUTDOWN", false, "host-qmp-quit");
                            finish(0);
                            return 0;
                        }
                        return x.status();
                    }
                    case ResetEvent r -> doReset(r);
                }
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            finish(1);
            return 1;
        }
    }

    private Event onVcpuFinished(VcpuExit x) {
        if (x.reason() == VcpuExit.Reason.SHUTDOWN) {
            return new ResetEvent("triple fault", true);
        }
        err.println("isthmus-vmm: vCPU 0 stopped: " + x.describe());
        if (x.error() != null && x.error().getMessage() != null) {
            err.println("isthmus-vmm: " + x.error().getMessage());
        }
        return new ExitEvent(1);
    }

    private void startThreads(boolean paused) {
        if (ending.get()) {
            return;
        }
        threads.clear();
        EntryHook picInjector = this::injectPic;
        for (Vcpu c : vcpus) {
            int id = c.id();
            ExitHandler handler = (vcpu, run) -> handleExit(id, run);
            threads.add(VcpuThread.start(c, dispatcher, handler, id == 0 ? picInjector : null, paused));
        }
        launched = !paused;
    }

    /** Exits that are neither IO nor MMIO, on the vCPU thread. */
    private boolean handleExit(int id, KvmRun run) {
        if (vcpuTids[id] == 0) {
            vcpuTids[id] = Libc.gettid();
        }
        int reason = run.exitReason();
        if (reason == KvmRun.EXIT_HLT || reason == KvmRun.EXIT_INTR || reason == KvmRun.EXIT_IRQ_WINDOW_OPEN) {
            return true;
        }
        if (reason == KvmRun.EXIT_IOAPIC_EOI) {
            if (logInterrupts) {
                log.interrupt("IOAPIC: EOI of vector 0x" + Integer.toHexString(run.eoiVector()) + " from vCPU " + id);
            }
            ioapic.eoi(run.eoiVector());
            return true;
        }
        if (reason == KvmRun.EXIT_SYSTEM_EVENT) {
            int type = run.systemEventType();
            if (type == 2) { // KVM_SYSTEM_EVENT_RESET
                reset("KVM system event reset");
            } else {
                exitAfterEvent(0, true, "guest-shutdown");
            }
            return false;
        }
        return false;
    }

    private void doReset(ResetEvent r) {
        if (ending.get()) {
            return;
        }
        if (config.noReboot()) {
            emit("SHUTDOWN", r.guest(), r.guest() ? "guest-reset" : "host-qmp-system-reset");
            finish(0);
            return;
        }
        for (VcpuThread t : threads) {
            t.stop();
        }
        emit("RESET", r.guest(), r.guest() ? "guest-reset" : "host-qmp-system-reset");
        // As QEMU's qemu_devices_reset: the interrupt controllers (the in-kernel LAPICs too) and the PIT start over.
        pic.reset();
        ioapic.reset();
        for (int i = 0; i < vcpus.size(); i++) {
            Vcpu c = vcpus.get(i);
            // APIC base first (xAPIC mode, enabled, BSP flag on vCPU 0, as QEMU's apic_reset_common): the LAPIC
            // state below is read in the mode it sets.
            Sregs sr = c.getSregs().apicBase(APIC_BASE_RESET | (i == 0 ? APIC_BASE_BSP : 0));
            // A triple fault on AMD: Linux's kvm_amd (6.1, Debian 12's) rebuilds the VMCB on the shutdown exit
            // but reloads the nested page-table root only if paging was on, so a guest that faulted in protected
            // mode without paging re-enters with no nested root and faults forever on its first fetch (seen in
            // the lab, not under QEMU, whose reset rewrites the nested state). Changing CR0 through
            // KVM_SET_SREGS makes KVM reset the MMU context, reloading the root; it costs nothing elsewhere.
            c.setSregs(sr.cr0(sr.cr0() ^ Sregs.CR0_PE));
            c.setSregs(sr.cr0(sr.cr0() ^ Sregs.CR0_PE));
            c.setLapic(resetLapics.get(i));
        }
        boot();
        // The PIT last, just before the vCPUs restart, as QEMU resets devices and resumes at once: its count runs
        // in real time, and reloading the kernel must not eat into it.
        pit.reset();
        // A guest reset while halted stays halted in the kernel unless told otherwise.
        vcpus.get(0).setMpState(Vcpu.MP_STATE_RUNNABLE);
        for (int i = 1; i < vcpus.size(); i++) {
            vcpus.get(i).setMpState(Vcpu.MP_STATE_UNINITIALIZED);
        }
        boolean paused = state == RunState.PAUSED || state == RunState.PRELAUNCH;
        startThreads(paused);
    }

    // ---- MachineControl (vCPU threads) ----

    @Override
    public void exit(int status, String why) {
        if (why.startsWith("ACPI")) {
            exitAfterEvent(status, true, "guest-shutdown");
        }
        finish(status);
    }

    private void exitAfterEvent(int status, boolean guest, String reason) {
        state = RunState.SHUTDOWN;
        emit("SHUTDOWN", guest, reason);
        finish(status);
    }

    @Override
    public void reset(String why) {
        events.add(new ResetEvent(why, true));
    }

    /**
     * Ends the machine with {@code status}, from any thread; the first call wins. As QEMU's {@code exit()}: the
     * serial port is flushed and then silenced, so nothing the guest writes afterwards comes out; every vCPU is
     * asked to stop without waiting (the caller may be one of them, inside a device); {@link #run} returns the
     * status.
     */
    private void finish(int status) {
        if (!ending.compareAndSet(false, true)) {
            return;
        }
        if (log != null) {
            log.info("exit status " + status);
        }
        serial.close();
        for (VcpuThread t : threads) {
            t.requestStop();
        }
        events.add(new ExitEvent(status));
    }

    // ---- QMP ----

    /** The current run state. */
    public RunState state() {
        return state;
    }

    /** Whether the vCPUs are running. */
    public boolean running() {
        return state == RunState.RUNNING;
    }

    /** QMP {@code stop}: pauses all vCPUs; emits STOP if they were running. */
    public synchronized void stop() {
        if (state != RunState.RUNNING) {
            return;
        }
        for (VcpuThread t : threads) {
            t.pause();
        }
        state = RunState.PAUSED;
        emit("STOP", false, null);
    }

    /** QMP {@code cont}: resumes all vCPUs; emits RESUME. */
    public synchronized void cont() {
        if (state == RunState.RUNNING || state == RunState.SHUTDOWN) {
            return;
        }
        state = RunState.RUNNING;
        emit("RESUME", false, null);
        for (VcpuThread t : threads) {
            t.resume();
        }
        launched = true;
    }

    /** QMP {@code system_reset}. */
    public void systemReset() {
        events.add(new ResetEvent("QMP system_reset", false));
    }

    /** QMP {@code quit}: after the reply, the main loop emits SHUTDOWN (host-qmp-quit) and exits with 0. */
    public void quit() {
        events.add(new ExitEvent(QUIT));
    }

    /** Host thread ids of the vCPUs as far as known (0 until a vCPU first exits to user space). */
    public int[] vcpuThreadIds() {
        return vcpuTids.clone();
    }

    /** The configuration. */
    public VmConfig config() {
        return config;
    }

    /** Flushes output and gives the terminal its settings back; used by the caller before it exits. */
    public void flush() {
        serial.flush();
        unassigned.flushSummary();
        restoreTerminal.run();
    }

    /** Unassigned accesses seen so far. */
    public long unassignedAccesses() {
        return unassigned.total();
    }

    /**
     * Releases the machine: the PIT's thread, the serial port and its backend, every vCPU thread (stopped and
     * waited for before the memory they run in is unmapped), the VM, its memory and {@code /dev/kvm}. Call after
     * {@link #run} has returned, or instead of it; idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        ending.set(true);
        pit.close();
        serial.close();
        for (VcpuThread t : threads) {
            t.close();
        }
        vm.close();
        memory.close();
        kvm.close();
        restoreTerminal.run();
        serialBackend.close();
    }
}
