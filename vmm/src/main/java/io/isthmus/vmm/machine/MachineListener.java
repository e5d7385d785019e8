package io.isthmus.vmm.machine;

/**
 * Receives the machine's lifecycle events (QMP turns them into STOP, RESUME, RESET and SHUTDOWN). Called from
 * whichever thread caused the event; implementations must be thread-safe and must not block.
 */
public interface MachineListener {
    /** {@code event} is STOP, RESUME, RESET or SHUTDOWN; {@code reason} QEMU's reason string or null. */
    void onEvent(String event, boolean guest, String reason);
}
