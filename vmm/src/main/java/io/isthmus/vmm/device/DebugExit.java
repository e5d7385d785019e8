package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * QEMU's {@code isa-debug-exit}: any write ends the VMM with exit status {@code (value << 1) | 1}; reads return
 * 0. Stateless apart from the machine it tells; thread-safe.
 */
public final class DebugExit implements BusDevice {
    private final MachineControl machine;

    /** A device that asks {@code machine} to exit. */
    public DebugExit(MachineControl machine) {
        this.machine = machine;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        long v = size >= 8 ? value : value & ((1L << (size * 8)) - 1);
        machine.exit((int) ((v << 1) | 1), "isa-debug-exit wrote 0x" + Long.toHexString(v));
    }
}
