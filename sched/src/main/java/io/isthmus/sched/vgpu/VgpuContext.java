package io.isthmus.sched.vgpu;

import io.isthmus.sched.GpuScheduler;
import io.isthmus.sched.LeaveMode;
import io.isthmus.sched.VGpu;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.WorkItem;
import io.isthmus.sched.WorkStatus;
import io.isthmus.sched.engine.DeviceContext;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.engine.Kernel;

/**
 * One vGPU as its device sees it: submit requests, get completions. It holds the vGPU's place in the
 * {@link GpuScheduler} (its share), its device memory quota (a {@link DeviceHeap}), its own handle space, and its
 * engine context; requests run in submission order on the scheduler's thread when the vGPU has the engine.
 *
 * <p>Validation, on every request, when it runs: the op and kernel id; every scalar against its range; every handle
 * against this vGPU's live allocations (generation-checked, so freed and foreign handles fail); every device range
 * against its allocation and every guest range against {@link GuestRam}, with overflow-safe arithmetic. A bad request
 * completes with an error status and touches nothing; nothing throws on a guest's values and nothing allocates.
 *
 * <p>Isolation: a {@link VgpuCompletion} that throws fails this vGPU alone (it refuses requests from then on, see
 * {@link #failed()}); the scheduler's thread, shared by every vGPU of the engine, goes on.
 *
 * <p>Lifetime: made by {@link VgpuHost#open}, until {@link #close()} (requests still queued then complete as CLOSED,
 * the device memory is freed). Thread-safety: {@link #submit} from any thread (lock-free); {@link #close()} from any
 * thread (it waits for the scheduler's thread); the rest runs on the scheduler's thread.
 */
public final class VgpuContext implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(VgpuContext.class);
    /** The most live allocations per vGPU. */
    public static final int MAX_ALLOCATIONS = 4096;

    private final VgpuHost host;
    private final DeviceContext device;
    private final GuestRam ram;
    private final HandleTable handles;
    private final DeviceHeap heap;
    private final VgpuCompletion completion;
    private final long[] args = new long[Kernel.MAX_ARGS];
    private VGpu vgpu;
    private long debtAtClose, closeNanos; // written by close() on the scheduler's thread, read after it returned
    private volatile boolean closed;
    private volatile boolean failed;

    VgpuContext(VgpuHost host, DeviceContext device, GuestRam ram, int tag, VgpuCompletion completion) {
        this.host = host;
        this.device = device;
        this.ram = ram;
        this.completion = completion;
        this.handles = new HandleTable(tag, MAX_ALLOCATIONS);
        this.heap = new DeviceHeap(device.memoryBytes(), MAX_ALLOCATIONS);
    }

    // Joins the scheduler; on its thread.
    void join(GpuScheduler scheduler, VGpuConfig config) {
        vgpu = scheduler.join(config, this::done);
    }

    /** @return its id on the scheduler (its vGPU's) */
    public int id() {
        return vgpu.id();
    }

    /** @return its scheduling handle (weight, cap; pending work) */
    public VGpu vgpu() {
        return vgpu;
    }

    /** @return its device memory quota, bytes */
    public long memoryQuota() {
        return heap.capacity();
    }

    /**
     * Queues {@code r} behind this vGPU's earlier requests. Lock-free; allocates nothing.
     *
     * @return {@link VgpuStatus#OK}: accepted, its completion will come; {@link VgpuStatus#BUSY}: the queue is full,
     *     {@link VgpuStatus#CLOSED}: the vGPU is closed: refused, no completion will come, the request is still
     *     the caller's (its status says the same)
     */
    public int submit(VgpuRequest r) {
        if (closed || failed) {
            return r.status = VgpuStatus.CLOSED;
        }
        r.context = this;
        r.status = VgpuStatus.PENDING;
        r.result = 0;
        r.gpuNanos = 0;
        if (vgpu.submit(r.item)) {
            return VgpuStatus.OK;
        }
        return r.status = vgpu.isClosed() ? VgpuStatus.CLOSED : VgpuStatus.BUSY;
    }

    // On the scheduler's thread, which serves every vGPU of the engine: one device's failure to take its completion
    // must not end it. That vGPU is failed instead: it refuses new requests and its completions are dropped, until its
    // owner closes it (a device reset does); the others go on.
    private void done(WorkItem item) {
        VgpuRequest r = VgpuRequest.of(item);
        if (item.status() == WorkStatus.RETURNED) {
            r.status = VgpuStatus.CLOSED;
        }
        if (failed) {
            return;
        }
        try {
            completion.completed(r);
        } catch (RuntimeException e) {
            failed = true;
            LOG.error("vGPU {}: its device failed to take a completion ({}); it refuses requests until it is closed,"
                    + " the engine's other vGPUs go on", vgpu.id(), e.toString());
        }
    }

    /** @return whether its device failed to take a completion: it refuses requests until closed */
    public boolean failed() {
        return failed;
    }

    // Runs r on the scheduler's thread; sets its status, result and device time; returns the device time.
    long execute(VgpuRequest r) {
        long t = 0;
        int s;
        long[] w = r.words;
        switch (r.op) {
            case VgpuOp.ALLOC -> s = alloc(r, w[0]);
            case VgpuOp.FREE -> s = free(w[0]);
            case VgpuOp.COPY_IN, VgpuOp.COPY_OUT -> {
                int slot = handles.slot(w[1]);
                int region = ram.find(w[0], w[3]);
                if (slot < 0) {
                    s = VgpuStatus.BAD_HANDLE;
                } else if (w[2] < 0 || w[3] < 0 || w[3] > handles.size(slot) - w[2]) {
                    s = w[2] < 0 || w[3] < 0 ? VgpuStatus.BAD_ARGUMENT : VgpuStatus.OUT_OF_BOUNDS;
                } else if (region < 0) {
                    s = VgpuStatus.BAD_GUEST_ADDRESS;
                } else {
                    long ramOff = w[0] - ram.base(region), dev = handles.offset(slot) + w[2];
                    t = r.op == VgpuOp.COPY_IN ? device.copyIn(region, ramOff, dev, w[3])
                            : device.copyOut(dev, region, ramOff, w[3]);
                    s = t == DeviceContext.FAILED ? VgpuStatus.DEVICE_ERROR : VgpuStatus.OK;
                }
            }
            case VgpuOp.LAUNCH -> {
                Kernel k = Kernel.byId(r.kernel);
                s = k == null ? VgpuStatus.BAD_KERNEL : translate(k, w);
                if (s == VgpuStatus.OK) {
                    t = device.launch(k, args);
                    s = t == DeviceContext.FAILED ? VgpuStatus.DEVICE_ERROR : VgpuStatus.OK;
                }
            }
            case VgpuOp.FENCE -> {
                t = device.fence();
                s = t == DeviceContext.FAILED ? VgpuStatus.DEVICE_ERROR : VgpuStatus.OK;
            }
            default -> s = VgpuStatus.BAD_OP;
        }
        r.status = s;
        r.gpuNanos = s == VgpuStatus.OK ? t : 0;
        return Math.max(0, t);
    }

    private int alloc(VgpuRequest r, long bytes) {
        if (bytes <= 0) {
            return VgpuStatus.BAD_ARGUMENT;
        }
        long size = DeviceHeap.rounded(bytes);
        if (size < 0 || size > heap.capacity() - heap.used()) {
            return VgpuStatus.OUT_OF_MEMORY;
        }
        long off = heap.allocate(size);
        if (off < 0) {
            return VgpuStatus.OUT_OF_MEMORY;
        }
        long h = handles.add(off, bytes);
        if (h == 0) {
            heap.free(off, size);
            return VgpuStatus.OUT_OF_MEMORY;
        }
        r.result = h;
        return VgpuStatus.OK;
    }

    private int free(long handle) {
        int slot = handles.slot(handle);
        if (slot < 0) {
            return VgpuStatus.BAD_HANDLE;
        }
        heap.free(handles.offset(slot), DeviceHeap.rounded(handles.size(slot)));
        handles.remove(slot);
        return VgpuStatus.OK;
    }

    // Checks a launch's words and fills args with them, buffers replaced by device offsets.
    private int translate(Kernel k, long[] w) {
        if (!k.scalarsValid(w)) {
            return VgpuStatus.BAD_ARGUMENT;
        }
        for (int i = 0; i < Kernel.MAX_ARGS; i++) {
            if (k.isBuffer(i)) {
                int slot = handles.slot(w[i]);
                if (slot < 0) {
                    return VgpuStatus.BAD_HANDLE;
                }
                if (k.bufferBytes(i, w) > handles.size(slot)) {
                    return VgpuStatus.OUT_OF_BOUNDS;
                }
                args[i] = handles.offset(slot);
            } else {
                args[i] = w[i];
            }
        }
        return VgpuStatus.OK;
    }

    /** @return live allocations (scheduler's thread, or after the host stopped) */
    public int allocations() {
        return handles.count();
    }

    /** @return device memory allocated, bytes, rounded to the allocator's granularity */
    public long memoryUsed() {
        return heap.used();
    }

    /** @return its engine context (the scheduler's thread only) */
    public DeviceContext device() {
        return device;
    }

    /**
     * Closes the vGPU: it refuses new requests; queued ones complete as {@link VgpuStatus#CLOSED}; its share and device
     * memory are released. Once; waits for the scheduler's thread.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        host.control(() -> {
            long t0 = host.engine().now();
            if (!vgpu.isClosed()) {
                debtAtClose = host.scheduler().debtNanos(vgpu);
                host.scheduler().leave(vgpu, LeaveMode.RETURN);
            }
            device.close();
            host.closed(this);
            closeNanos = Math.max(0, host.engine().now() - t0);
        });
    }

    /**
     * @return what it owed the others when it closed, ns (engine time it ran beyond its share, not yet made up): a
     *     vGPU opened in its place inherits it ({@link VgpuHost#open(VGpuConfig, long, GuestRam, VgpuCompletion,
     *     VgpuContext)}); 0 before {@link #close()}
     */
    public long debtAtClose() {
        return debtAtClose;
    }

    /** @return the engine's time spent closing it (leaving the scheduler, freeing its device memory), ns */
    public long closeNanos() {
        return closeNanos;
    }

    boolean isClosed() {
        return closed;
    }
}
