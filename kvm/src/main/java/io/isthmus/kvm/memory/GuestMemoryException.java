package io.isthmus.kvm.memory;

/**
 * An access to guest-physical memory that falls, wholly or partly, outside guest RAM. The message names the
 * address, the length and the RAM ranges that exist.
 *
 * <p>Immutable.
 */
public final class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long address;
    private final long length;

    GuestMemoryException(long address, long length, String ranges) {
        super("guest-physical access of " + length + " byte(s) at 0x" + Long.toHexString(address)
                + " is outside guest RAM (RAM: " + ranges + ")");
        this.address = address;
        this.length = length;
    }

    /** The first guest-physical address of the failed access. */
    public long address() {
        return address;
    }

    /** The length of the failed access in bytes. */
    public long length() {
        return length;
    }
}
