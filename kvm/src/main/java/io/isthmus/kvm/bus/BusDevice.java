package io.isthmus.kvm.bus;

/**
 * A device model on a {@link PioBus} or {@link MmioBus}: it handles reads and writes at offsets into the range it
 * was inserted at.
 *
 * <p>Values travel as {@code long}s holding the access's {@code size} (1, 2, 4 or 8) bytes, little-endian in the
 * low bits, so no call allocates. Threading: each vCPU thread calls its bus directly, so a device on a VM with
 * several vCPUs is called concurrently and must synchronize its own state.
 */
public interface BusDevice {

    /**
     * A guest read of {@code size} bytes at {@code offset} from the device's base.
     *
     * @return the value, in the low {@code size} bytes (higher bytes are ignored)
     */
    long read(long offset, int size);

    /** A guest write of the low {@code size} bytes of {@code value} at {@code offset} from the device's base. */
    void write(long offset, int size, long value);
}
