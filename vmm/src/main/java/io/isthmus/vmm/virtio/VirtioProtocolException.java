package io.isthmus.vmm.virtio;

/**
 * The driver broke the virtio protocol (a descriptor outside guest RAM, a chain that loops, a ring index that
 * jumps, a malformed request): the device cannot go on and must be reset by the driver. The transport catches it,
 * sets DEVICE_NEEDS_RESET and sends a configuration change interrupt (virtio 1.2, 2.1.2).
 *
 * <p>Carries no stack trace: it describes the guest's mistake, not a host bug, and a hostile guest may cause one
 * per reset. Immutable.
 */
public final class VirtioProtocolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The driver's mistake, in words (e.g. "descriptor 3 of queue 0 loops back to 1"). */
    public VirtioProtocolException(String message) {
        super(message, null, false, false);
    }
}
