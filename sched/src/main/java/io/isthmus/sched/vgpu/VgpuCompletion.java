package io.isthmus.sched.vgpu;

/**
 * Where a vGPU's finished requests go: called once for every request {@link VgpuContext#submit} accepted, in
 * submission order, on the scheduler's thread, with its status, result and device time set ({@link VgpuStatus#CLOSED}
 * for requests handed back unrun when the vGPU closed). The request is the owner's again from this call on.
 *
 * <p>Must not block and should not allocate: it runs inside the scheduler's slice. A vGPU device writes the used ring
 * and signals its interrupt here (or hands the request to its own thread through a queue).
 */
@FunctionalInterface
public interface VgpuCompletion {
    /** @param request the finished request */
    void completed(VgpuRequest request);
}
