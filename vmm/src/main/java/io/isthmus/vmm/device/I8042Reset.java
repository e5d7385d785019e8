package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * The reset line of an i8042 keyboard controller (ports 0x60 and 0x64): writing 0xFE to the command port pulses
 * CPU reset, which the machine turns into a reboot, or an exit under {@code -no-reboot}. No keyboard: the status
 * register always reads "nothing to read, ready for input". Thread-safe (stateless).
 */
public final class I8042Reset implements BusDevice {
    private static final int CMD_RESET = 0xfe;
    private final MachineControl machine;

    /** A controller that resets through {@code machine}. */
    public I8042Reset(MachineControl machine) {
        this.machine = machine;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset == 4 && (value & 0xff) == CMD_RESET) {
            machine.reset("i8042 reset (port 0x64 <- 0xfe)");
        }
    }
}
