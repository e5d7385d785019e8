package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.memory.GuestMemory;

/**
 * What a {@link Device} plugs into: the machine's port and MMIO buses (which know what is free), its interrupt
 * lines, its RAM and its control. Implemented by the machine's device manager; a test can implement it to drive a
 * device model alone.
 *
 * <p>Thread-safety: the registration methods are called while the machine is built; {@link IrqLine}s from it may
 * be driven from any thread.
 */
public interface Platform {
    /** Puts {@code device} at ports {@code [base, base + length)}. */
    void pio(long base, long length, BusDevice device, String name);

    /** Puts {@code device} at guest-physical {@code [base, base + length)}. */
    void mmio(long base, long length, BusDevice device, String name);

    /**
     * Puts {@code device} at the lowest free MMIO range of {@code length} bytes aligned to {@code alignment} in
     * {@code [from, to)}; returns its base.
     */
    long allocateMmio(long length, long alignment, long from, long to, BusDevice device, String name);

    /** ISA interrupt line {@code irq} (0-15): to the PIC's input and the first IOAPIC's pin (IRQ 0 on pin 2). */
    IrqLine isaIrq(int irq);

    /** The IOAPIC pin with global system interrupt number {@code gsi} (0-23 the first IOAPIC, 24-47 the second). */
    IrqLine gsi(int gsi);

    /** The guest's RAM. */
    GuestMemory memory();

    /** The machine, for devices that power it off or reset it. */
    MachineControl control();
}
