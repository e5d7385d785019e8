package io.isthmus.kvm.bus;

/**
 * Guest-physical MMIO space, dispatching {@code KVM_EXIT_MMIO} accesses: any address that is not RAM (or is a
 * read-only slot being written). See {@link Bus} for the threading contract. Thread-safe.
 */
public final class MmioBus extends Bus {
    /** An empty MMIO bus. */
    public MmioBus() {
        super("MMIO", 0);
    }
}
