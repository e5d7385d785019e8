package io.isthmus.kvm.memory;

/**
 * A guest-physical address: what the guest puts on its memory bus, as opposed to a host virtual address.
 *
 * <p>A distinct type so loaders and device models cannot mix the two up in their signatures. Hot paths take the
 * plain {@code long} ({@link #value()}) to allocate nothing. Immutable; safe to share.
 *
 * @param value the address, an unsigned 64-bit number
 */
public record GuestAddress(long value) implements Comparable<GuestAddress> {

    /** The address {@code value}. */
    public static GuestAddress of(long value) {
        return new GuestAddress(value);
    }

    /** This address plus {@code offset}; throws {@link ArithmeticException} when the sum wraps past 2^64. */
    public GuestAddress plus(long offset) {
        long sum = value + offset;
        if (offset >= 0 ? Long.compareUnsigned(sum, value) < 0 : Long.compareUnsigned(sum, value) > 0) {
            throw new ArithmeticException("guest address 0x" + Long.toHexString(value) + " + " + offset + " wraps");
        }
        return new GuestAddress(sum);
    }

    /** Whether this address is a multiple of {@code alignment} (a power of two). */
    public boolean isAligned(long alignment) {
        return (value & (alignment - 1)) == 0;
    }

    @Override
    public int compareTo(GuestAddress o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(value);
    }
}
