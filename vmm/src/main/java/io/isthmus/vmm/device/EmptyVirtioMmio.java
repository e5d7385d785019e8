package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * microvm's virtio-mmio transports with nothing plugged in (QEMU creates 24 at 0xfeb00000, 0x200 apart): they
 * answer the probe (magic "virt", legacy version 1, vendor "QEMU") with device ID 0, which drivers skip.
 * Thread-safe (stateless).
 */
public final class EmptyVirtioMmio implements BusDevice, Device {
    /** Where the transports start, how far apart they are, and how many there are. */
    public static final long BASE = 0xfeb00000L, STRIDE = 0x200;
    public static final int COUNT = 24;

    private final int slot;

    /** The transport of slot {@code slot} (0 to {@link #COUNT} - 1), at {@code BASE + slot * STRIDE}. */
    public EmptyVirtioMmio(int slot) {
        this.slot = slot;
    }

    @Override
    public void plug(Platform platform) {
        platform.mmio(BASE + slot * STRIDE, STRIDE, this, "virtio-mmio." + slot + " (empty)");
    }

    @Override
    public long read(long offset, int size) {
        return switch ((int) (offset % STRIDE)) {
            case 0x000 -> 0x74726976L;
            case 0x004 -> 1;
            case 0x00c -> 0x554d4551L;
            default -> 0;
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        // Writes to an empty transport do nothing, as in QEMU.
    }
}
