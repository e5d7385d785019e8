package io.isthmus.vmm.device;

/**
 * An interrupt line a device drives: the in-kernel irqchip's GSI (through {@code KVM_IRQ_LINE}) in the VMM.
 *
 * <p>Implementations must be callable from any thread.
 */
@FunctionalInterface
public interface IrqLine {
    /** Sets the line's level. */
    void set(boolean level);

    /** A line connected to nothing. */
    IrqLine NONE = level -> { };
}
