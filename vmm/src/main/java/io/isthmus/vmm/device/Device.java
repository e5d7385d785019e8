package io.isthmus.vmm.device;

/**
 * A device model that plugs into a machine: it registers its port and MMIO ranges and takes its interrupt lines
 * from the {@link Platform} in {@link #plug}, once, while the machine is built; the machine resets it on a system
 * reset and closes it with itself. Adding a device to the machine is this one class and one
 * {@code DeviceManager.add} call.
 *
 * <p>Lifetime: from {@link #plug} to {@link #close()}. Threading: {@link #plug}, {@link #reset()} and
 * {@link #close()} are called by the machine's building or main thread, with the vCPUs stopped for a reset; the
 * bus methods of what it registers are called by vCPU threads, concurrently.
 */
public interface Device extends AutoCloseable {
    /** Registers ranges and takes interrupt lines; throws (with what and where) when a range is taken. */
    void plug(Platform platform);

    /** A system reset, as QEMU's device reset: back to the power-on state. */
    default void reset() {
    }

    /** Releases what the device holds (a file, a thread); the machine calls it once, after the vCPUs stopped. */
    @Override
    default void close() {
    }
}
