package io.isthmus.sched.vgpu;

import io.isthmus.sched.WorkItem;
import io.isthmus.sched.engine.EngineTask;
import io.isthmus.sched.engine.Kernel;

/**
 * One vGPU request and, once done, its completion: the op ({@link VgpuOp}), a kernel id for LAUNCH, the device's tag
 * (e.g. its descriptor index, handed back untouched), six 64-bit words, and then a {@link VgpuStatus}, a result (the
 * handle ALLOC made) and the device time it took. The words are guest values, validated when the request runs.
 *
 * <p>Lifetime: made once by its owner (the vGPU device keeps a pool, one per queue slot) and reused: filling and
 * submitting it allocates nothing. Thread-safety: the owner's until {@link VgpuContext#submit} returns OK, then the
 * scheduler's until its {@link VgpuCompletion} is called, then the owner's again; the submission queue and the
 * completion call publish the fields between them.
 */
public final class VgpuRequest {
    final long[] words = new long[Kernel.MAX_ARGS];
    final WorkItem item;
    int op;
    int kernel;
    long tag;
    int status = VgpuStatus.PENDING;
    long result;
    long gpuNanos;
    VgpuContext context;

    /** An empty request. */
    public VgpuRequest() {
        item = new WorkItem().payload(new Task(this));
    }

    // The engine's view: runs the request in its context. Kept off the public type so the owner cannot run it.
    private record Task(VgpuRequest request) implements EngineTask {
        @Override
        public long run() {
            return request.context.execute(request);
        }
    }

    static VgpuRequest of(WorkItem item) {
        return ((Task) item.payload()).request;
    }

    /** Sets every field: op, kernel id, tag and words 0-5; @return this. */
    public VgpuRequest set(int op, int kernel, long tag, long w0, long w1, long w2, long w3, long w4, long w5) {
        this.op = op;
        this.kernel = kernel;
        this.tag = tag;
        words[0] = w0;
        words[1] = w1;
        words[2] = w2;
        words[3] = w3;
        words[4] = w4;
        words[5] = w5;
        return this;
    }

    /** ALLOC {@code bytes}; @return this */
    public VgpuRequest alloc(long bytes) {
        return set(VgpuOp.ALLOC, 0, tag, bytes, 0, 0, 0, 0, 0);
    }

    /** FREE {@code handle}; @return this */
    public VgpuRequest free(long handle) {
        return set(VgpuOp.FREE, 0, tag, handle, 0, 0, 0, 0, 0);
    }

    /** COPY_IN {@code length} bytes from guest {@code address} to {@code handle} at {@code devOffset}; @return this */
    public VgpuRequest copyIn(long address, long handle, long devOffset, long length) {
        return set(VgpuOp.COPY_IN, 0, tag, address, handle, devOffset, length, 0, 0);
    }

    /** COPY_OUT {@code length} bytes from {@code handle} at {@code devOffset} to guest {@code address}; @return this */
    public VgpuRequest copyOut(long address, long handle, long devOffset, long length) {
        return set(VgpuOp.COPY_OUT, 0, tag, address, handle, devOffset, length, 0, 0);
    }

    /** LAUNCH {@code kernel} with words 0-3 (the set needs no more); @return this */
    public VgpuRequest launch(Kernel k, long a0, long a1, long a2, long a3) {
        return set(VgpuOp.LAUNCH, k.id(), tag, a0, a1, a2, a3, 0, 0);
    }

    /** FENCE; @return this */
    public VgpuRequest fence() {
        return set(VgpuOp.FENCE, 0, tag, 0, 0, 0, 0, 0, 0);
    }

    /** Sets the owner's tag, returned untouched; @return this */
    public VgpuRequest tag(long t) {
        this.tag = t;
        return this;
    }

    /** @return its op */
    public int op() {
        return op;
    }

    /** @return the kernel id (LAUNCH) */
    public int kernel() {
        return kernel;
    }

    /** @return the owner's tag */
    public long tag() {
        return tag;
    }

    /** @return word {@code i}, 0 to 5 */
    public long word(int i) {
        return words[i];
    }

    /** @return its {@link VgpuStatus}; {@link VgpuStatus#PENDING} while in flight */
    public int status() {
        return status;
    }

    /** @return ALLOC's handle; 0 otherwise */
    public long result() {
        return result;
    }

    /** @return the device time it took, ns (0 for ALLOC, FREE and errors) */
    public long gpuNanos() {
        return gpuNanos;
    }

    /** @return engine clock at submission */
    public long submittedNanos() {
        return item.submittedNanos();
    }

    /** @return engine clock when it started running */
    public long startedNanos() {
        return item.startedNanos();
    }

    /** @return engine clock when it completed (or was handed back) */
    public long completedNanos() {
        return item.completedNanos();
    }

    @Override
    public String toString() {
        return VgpuOp.name(op) + (op == VgpuOp.LAUNCH ? " " + kernelName() : "") + " tag " + tag + ": "
                + VgpuStatus.name(status);
    }

    private String kernelName() {
        Kernel k = Kernel.byId(kernel);
        return k == null ? "kernel " + kernel : k.name();
    }
}
