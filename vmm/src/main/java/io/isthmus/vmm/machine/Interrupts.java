package io.isthmus.vmm.machine;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Vcpu;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.run.EntryHook;
import io.isthmus.vmm.acpi.AcpiTables;
import io.isthmus.vmm.device.Device;
import io.isthmus.vmm.device.Ioapic;
import io.isthmus.vmm.device.IrqLine;
import io.isthmus.vmm.device.Pic8259;
import io.isthmus.vmm.device.Pit8254;
import io.isthmus.vmm.device.Platform;

/**
 * The machine's interrupt routing, as QEMU microvm wires it with KVM's split irqchip: the LAPICs in the kernel;
 * the 8259 PIC pair (with its ELCR), the 8254 PIT and two IOAPICs (GSI 0-23 at 0xfec00000, 24-47 at 0xfec10000,
 * as the MADT lists them) emulated here.
 *
 * <p>ISA lines reach both the PIC and the first IOAPIC (ISA IRQ 0 on pin 2, as QEMU's GSI wiring). The PIC's output
 * is injected into the boot vCPU with {@code KVM_INTERRUPT} before it enters the guest ({@link #picInjector}); KVM
 * itself holds it back until the guest makes its LAPIC's LINT0 ExtINT (QEMU microvm leaves LINT0 masked at reset).
 * Each IOAPIC sends MSIs to the in-kernel LAPICs, with its pins' redirection entries mirrored as GSI routes so the
 * kernel reports EOIs of level-triggered vectors ({@link #eoi}). The PIT ticks from power-on, but its thread starts
 * only on the guest's first access to an interrupt controller, so a guest that never touches one costs no thread.
 *
 * <p>Lifetime: one per machine; {@link #close()} stops the PIT's thread. Thread-safe: the devices synchronize
 * themselves; lines may be driven from any thread.
 */
final class Interrupts implements Device {
    /** IOAPIC pins in all: the split irqchip reserves as many GSIs for them. */
    static final int IOAPIC_GSIS = 2 * Ioapic.PINS;

    private final Pic8259 pic;
    private final Ioapic ioapic;
    private final Ioapic ioapic2;
    private final Pit8254 pit;
    private final VmmLog log; // null unless -d int

    /**
     * @param vm       where interrupts go
     * @param routes   the VM's GSI routing table, at least {@link #IOAPIC_GSIS} entries
     * @param kickBsp  makes the boot vCPU leave the guest, to take a PIC interrupt
     * @param log      the {@code -d int} log, or null
     */
    Interrupts(Vm vm, GsiRoutes routes, Runnable kickBsp, VmmLog log) {
        this.log = log;
        this.pic = new Pic8259(kickBsp);
        this.ioapic = new Ioapic(new Routes(vm, routes, 0), 0);
        this.ioapic2 = new Ioapic(new Routes(vm, routes, AcpiTables.IOAPIC2_GSI_BASE), 1);
        this.pit = new Pit8254(isa(0), System::nanoTime);
    }

    @Override
    public void plug(Platform p) {
        p.pio(0x20, 2, startsPitTimer(pic.master()), "pic");
        p.pio(0xa0, 2, startsPitTimer(pic.slave()), "pic");
        p.pio(0x4d0, 2, startsPitTimer(pic.elcr()), "elcr");
        p.pio(0x40, 4, pit.ports(), "pit");
        // No port 0x61: QEMU microvm has no PC speaker, the port reads all ones there (checked by the irq16 guest).
        p.mmio(AcpiTables.IOAPIC_BASE, 0x1000, startsPitTimer(ioapic), "ioapic");
        p.mmio(AcpiTables.IOAPIC2_BASE, 0x1000, startsPitTimer(ioapic2), "ioapic2");
    }

    /** ISA interrupt line {@code irq}: the PIC's input and the first IOAPIC's pin. */
    IrqLine isa(int irq) {
        if (irq < 0 || irq >= 16) {
            throw new IllegalArgumentException("ISA IRQ " + irq + ": 0 to 15");
        }
        int pin = irq == 0 ? 2 : irq;
        return level -> {
            pic.setIrq(irq, level);
            ioapic.setIrq(pin, level);
        };
    }

    /** The IOAPIC pin of global system interrupt {@code gsi} (0-47). */
    IrqLine gsi(int gsi) {
        if (gsi < 0 || gsi >= IOAPIC_GSIS) {
            throw new IllegalArgumentException("GSI " + gsi + ": the IOAPICs have 0 to " + (IOAPIC_GSIS - 1));
        }
        Ioapic target = gsi < Ioapic.PINS ? ioapic : ioapic2;
        int pin = gsi % Ioapic.PINS;
        return level -> target.setIrq(pin, level);
    }

    /**
     * Before each entry of the boot vCPU: a pending PIC interrupt is acknowledged and injected when the guest can
     * take it, or KVM is asked to exit as soon as it can (an interrupt window). Allocation-free.
     */
    EntryHook picInjector() {
        return this::injectPic;
    }

    private void injectPic(Vcpu vcpu, KvmRun run) {
        if (!pic.hasInterrupt()) {
            run.requestInterruptWindow(false);
        } else if (run.readyForInterruptInjection()) {
            int vector = pic.acknowledge();
            int r = vcpu.interruptRaw(vector);
            if (log != null) {
                log.interrupt("PIC: vector 0x" + Integer.toHexString(vector) + " injected into vCPU 0"
                        + (r < 0 ? " failed: errno " + -r : ""));
            }
            run.requestInterruptWindow(false);
        } else {
            run.requestInterruptWindow(true);
        }
    }

    /** A level-triggered vector's EOI ({@code KVM_EXIT_IOAPIC_EOI}), for whichever IOAPIC raised it. */
    void eoi(int vector, int vcpu) {
        if (log != null) {
            log.interrupt("IOAPIC: EOI of vector 0x" + Integer.toHexString(vector) + " from vCPU " + vcpu);
        }
        ioapic.eoi(vector);
        ioapic2.eoi(vector);
    }

    /** As QEMU's device reset of the interrupt controllers: the PIC and both IOAPICs (the PIT: {@link #resetPit}). */
    @Override
    public void reset() {
        pic.reset();
        ioapic.reset();
        ioapic2.reset();
    }

    /**
     * The PIT's reset, which the machine does last, just before the vCPUs restart, as QEMU resets devices and
     * resumes at once: its count runs in real time, and reloading the kernel must not eat into it.
     */
    void resetPit() {
        pit.reset();
    }

    @Override
    public void close() {
        pit.close();
    }

    /**
     * {@code device}, whose first access also starts the PIT's timer thread: the PIT ticks from power-on, as
     * QEMU's, but its interrupts only matter once the guest touches an interrupt controller.
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

    /**
     * An IOAPIC's way into KVM: interrupts as {@code KVM_SIGNAL_MSI}, and each pin's redirection entry mirrored as
     * the GSI route of the pin's GSI. Called by the IOAPIC one call at a time.
     */
    private final class Routes implements Ioapic.Output {
        private final Vm vm;
        private final GsiRoutes routes;
        private final int gsiBase;

        Routes(Vm vm, GsiRoutes routes, int gsiBase) {
            this.vm = vm;
            this.routes = routes;
            this.gsiBase = gsiBase;
        }

        @Override
        public void route(int pin, long msiAddress, int msiData, boolean masked) {
            routes.set(gsiBase + pin, msiAddress, msiData, !masked);
        }

        @Override
        public void deliver(long msiAddress, int msiData) {
            boolean delivered = vm.signalMsi(msiAddress, msiData);
            if (log != null) {
                log.interrupt((gsiBase == 0 ? "IOAPIC" : "IOAPIC2") + ": vector 0x"
                        + Integer.toHexString(msiData & 0xff) + " (" + ((msiData & 1 << 15) != 0 ? "level" : "edge")
                        + ") to APIC 0x" + Long.toHexString(msiAddress >>> 12 & 0xff)
                        + (delivered ? "" : ", blocked by the guest"));
            }
        }
    }
}
