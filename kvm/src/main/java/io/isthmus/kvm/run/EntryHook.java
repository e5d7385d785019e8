package io.isthmus.kvm.run;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Vcpu;

/**
 * Work a {@link VcpuThread} does right before each {@code KVM_RUN}, on the vCPU's own thread: where a user-space
 * interrupt controller (a split irqchip's 8259 PIC) injects a pending interrupt with {@link Vcpu#interruptRaw}
 * or asks KVM for an interrupt window through {@link KvmRun#requestInterruptWindow}. A device that raises an
 * interrupt from another thread {@link VcpuThread#kick() kicks} the vCPU so that this runs soon.
 *
 * <p>Called once per entry, so it must be cheap and allocate nothing.
 */
@FunctionalInterface
public interface EntryHook {
    /** Called with the vCPU outside {@code KVM_RUN}, before it enters again. */
    void beforeEntry(Vcpu vcpu, KvmRun run);
}
