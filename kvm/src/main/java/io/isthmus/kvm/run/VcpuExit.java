package io.isthmus.kvm.run;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Regs;
import io.isthmus.kvm.Sregs;

/**
 * Why a {@link VcpuThread} finished, with the vCPU's registers at that moment. Immutable once made (the register
 * snapshots are copies no one else holds).
 *
 * @param reason     the outcome
 * @param exitReason the {@code KVM_EXIT_*} code of the last exit ({@link KvmRun#exitName(int)}), or -1
 * @param code       per reason: the {@code KVM_SYSTEM_EVENT_*} type, the internal-error sub-error, the hardware
 *                   entry-failure reason; else 0
 * @param data       extra words the kernel gave (internal error, system event), possibly empty
 * @param regs       general registers, or {@code null} when they could not be read
 * @param sregs      special registers, or {@code null}
 * @param error      what failed when {@code reason} is {@link Reason#ERROR}, else {@code null}
 */
public record VcpuExit(Reason reason, int exitReason, long code, long[] data, Regs regs, Sregs sregs,
                       Throwable error) {

    /** The outcome of a vCPU thread. */
    public enum Reason {
        /** The guest executed HLT (no in-kernel irqchip) and the handler stopped. */
        HLT,
        /** The guest triple-faulted or otherwise shut down. */
        SHUTDOWN,
        /** A {@code KVM_EXIT_SYSTEM_EVENT}: reset, shutdown, crash ({@link #code()} is the type). */
        SYSTEM_EVENT,
        /** KVM could not emulate or handle something. */
        INTERNAL_ERROR,
        /** The hardware refused to enter the guest (invalid guest state). */
        FAIL_ENTRY,
        /** Another exit the handler chose not to continue from. */
        OTHER,
        /** {@link VcpuThread#stop()} was called. */
        STOPPED,
        /** {@code KVM_RUN} failed or a device handler threw ({@link #error()}). */
        ERROR
    }

    /** A one-line description, e.g. {@code SHUTDOWN (exit SHUTDOWN) at rip=0x1003}. */
    public String describe() {
        StringBuilder b = new StringBuilder(reason.name());
        if (exitReason >= 0) {
            b.append(" (exit ").append(KvmRun.exitName(exitReason));
            if (code != 0) {
                b.append(", code 0x").append(Long.toHexString(code));
            }
            b.append(')');
        }
        if (regs != null) {
            b.append(" at rip=0x").append(Long.toHexString(regs.rip()));
        }
        if (error != null) {
            b.append(": ").append(error.getMessage());
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return describe();
    }
}
