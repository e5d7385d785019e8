package io.isthmus.vmm.pci;

/**
 * A PCI function on the bus: an emulated device model or (issue 12) a VFIO passthrough device, both seen by the
 * guest through one {@link PciConfigSpace} each. The bus routes ECAM accesses to the configuration space, places and
 * moves the BARs the configuration space declares ({@link PciBar}) in its windows as the guest programs them, wires
 * the interrupt pin to its GSI, and resets and closes the function with the machine.
 *
 * <p>A function is made before the machine, plugged once ({@link #attach}), reset on each system reset and closed
 * once with the machine. Threading: {@link #attach}, {@link #reset} and {@link #close} on the machine's building or
 * main thread (vCPUs stopped for a reset); configuration space and BAR accesses on vCPU threads, concurrently.
 */
public interface PciFunction extends AutoCloseable {
    /** What it is, for messages: "isthmus-testdev", "vfio 0000:41:00.0". */
    String name();

    /** Its configuration space, complete (header, BARs, capabilities) before the function is plugged. */
    PciConfigSpace config();

    /**
     * Plugged in at {@code slot}: the function takes its MSI vectors and anything else it needs. Called once, before
     * the guest runs.
     */
    default void attach(PciSlot slot) {
    }

    /**
     * A system reset of the function's own state (registers, queues, DMA). The bus then resets the configuration
     * space ({@link PciConfigSpace#reset()}: the PCI reset) and the BARs stop decoding.
     */
    default void reset() {
    }

    /** Releases what the function holds; once, after the vCPUs stopped. */
    @Override
    default void close() {
    }
}
