package io.isthmus.kvm.bus;

/**
 * A device range was inserted where it overlaps one already on the bus, or is empty or wraps. The message names
 * both ranges and devices.
 *
 * <p>Immutable.
 */
public final class BusOverlapException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    BusOverlapException(String message) {
        super(message);
    }
}
