package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * QEMU's {@code isa-debug-exit}: any write ends the VMM with exit status {@code (value << 1) | 1}; reads return
 * 0. Stateless apart from the machine it tells; thread-safe.
 */
public final class DebugExit implements BusDevice, Device {
    private final int iobase;
    private final int iosize;
    private volatile MachineControl machine;

    /** A device at ports {@code [iobase, iobase + iosize)} ({@code -device isa-debug-exit,iobase=,iosize=}). */
    public DebugExit(int iobase, int iosize) {
        this.iobase = iobase;
        this.iosize = iosize;
    }

    @Override
    public void plug(Platform platform) {
        machine = platform.control();
        platform.pio(iobase, iosize, this, "isa-debug-exit");
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
