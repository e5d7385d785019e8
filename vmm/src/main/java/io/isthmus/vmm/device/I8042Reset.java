package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * The reset line of an i8042 keyboard controller: writing 0xFE to the command port (0x64) pulses CPU reset,
 * which the machine turns into a reboot, or an exit under {@code -no-reboot}. No keyboard: the data port (0x60)
 * and the status register read 0 ("nothing to read, ready for input"). Thread-safe (stateless).
 *
 * <p>The two ports are two one-byte ranges, so each is registered as its own bus device, each seeing offset 0.
 */
public final class I8042Reset implements Device {
    /** The data and command/status ports. */
    public static final int DATA_PORT = 0x60, COMMAND_PORT = 0x64;
    private static final int CMD_RESET = 0xfe;
    private volatile MachineControl machine;

    @Override
    public void plug(Platform platform) {
        machine = platform.control();
        platform.pio(DATA_PORT, 1, new Port(false), "i8042 data");
        platform.pio(COMMAND_PORT, 1, new Port(true), "i8042 command");
    }

    private final class Port implements BusDevice {
        private final boolean command;

        Port(boolean command) {
            this.command = command;
        }

        @Override
        public long read(long offset, int size) {
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            if (command && (value & 0xff) == CMD_RESET) {
                machine.reset("i8042 reset (port 0x64 <- 0xfe)");
            }
        }
    }
}
