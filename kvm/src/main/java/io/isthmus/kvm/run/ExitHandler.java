package io.isthmus.kvm.run;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Vcpu;

/**
 * Decides what a {@link VcpuThread} does on an exit that is neither IO nor MMIO (HLT, SHUTDOWN, SYSTEM_EVENT,
 * INTERNAL_ERROR, FAIL_ENTRY, …).
 *
 * <p>Called on the vCPU's thread, with the exit still in {@code run}; must not block for long, since the vCPU is
 * stopped meanwhile.
 */
@FunctionalInterface
public interface ExitHandler {
    /** Stops the vCPU on every such exit: the default. */
    ExitHandler STOP = (vcpu, run) -> false;

    /** Continues after HLT (e.g. until an interrupt or a kick); stops on everything else. */
    ExitHandler CONTINUE_ON_HLT = (vcpu, run) -> run.exitReason() == KvmRun.EXIT_HLT;

    /** @return {@code true} to enter the guest again, {@code false} to stop and report the exit */
    boolean onExit(Vcpu vcpu, KvmRun run);
}
