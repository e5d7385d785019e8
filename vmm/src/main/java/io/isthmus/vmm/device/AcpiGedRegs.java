package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * microvm's ACPI hardware-reduced sleep and reset registers (MMIO 0xfea00200, QEMU's {@code acpi-ged-regs}):
 * byte 0 is sleep control (SLP_EN with SLP_TYP 5 powers off), byte 1 sleep status, byte 2 the reset register
 * (0x42 resets). The FADT points at them; this is how guests power microvm off. Thread-safe (stateless).
 */
public final class AcpiGedRegs implements BusDevice, Device {
    /** The guest-physical base and size of the register block. */
    public static final long BASE = 0xfea00200L, SIZE = 3;
    private static final int SLP_EN = 0x20, SLP_TYP_S5 = 5, RESET_VALUE = 0x42;
    private volatile MachineControl machine;

    @Override
    public void plug(Platform platform) {
        machine = platform.control();
        platform.mmio(BASE, SIZE, this, "acpi-ged-regs");
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == 0 && (v & SLP_EN) != 0 && ((v >> 2) & 7) == SLP_TYP_S5) {
            machine.exit(0, "ACPI power-off");
        } else if (offset == 2 && v == RESET_VALUE) {
            machine.reset("ACPI reset register");
        }
    }
}
