package io.isthmus.sched.vgpu;

/**
 * Where a vGPU's finished requests go: called once for every request {@link VgpuContext#submit} accepted, in
 * submission order, on the scheduler's thread, with its status, result and device time set ({@link VgpuStatus#CLOSED}
 * for requests handed back unrun when the vGPU closed). The request is the owner's again from this call on.
 *
 * <p>Must not block and should not allocate: it runs inside the scheduler's slice, and its time is charged to no one. A
 * vGPU device hands the request to its own thread through a queue (the isthmus-vgpu does), which writes the used ring
 * and signals the interrupt: anything that can wait on its guest (a queue lock the guest's notification holds) must not
 * run here.
 */
@FunctionalInterface
public interface VgpuCompletion {
    /** @param request the finished request */
    void completed(VgpuRequest request);
}
