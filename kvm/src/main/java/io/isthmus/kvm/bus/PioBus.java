package io.isthmus.kvm.bus;

/**
 * The x86 I/O-port space (ports 0 to 0xFFFF), dispatching {@code KVM_EXIT_IO} accesses. See {@link Bus} for the
 * threading contract. Thread-safe.
 */
public final class PioBus extends Bus {
    /** An empty port bus. */
    public PioBus() {
        super("PIO", 0xFFFF);
    }
}
