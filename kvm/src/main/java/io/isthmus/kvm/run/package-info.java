/**
 * The vCPU run loop: {@link io.isthmus.kvm.run.VcpuThread} (one platform thread per vCPU, pause/resume/stop and
 * signal-based kicks from any thread), {@link io.isthmus.kvm.run.ExitDispatcher} (IO/MMIO exits to the buses),
 * {@link io.isthmus.kvm.run.ExitHandler} (policy for other exits) and {@link io.isthmus.kvm.run.VcpuExit}.
 */
package io.isthmus.kvm.run;
