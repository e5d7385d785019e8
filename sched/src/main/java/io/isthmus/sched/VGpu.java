package io.isthmus.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * A vGPU's place on one engine: its submission queue and its scheduling state. Made by {@link GpuScheduler#join};
 * it lives until {@link GpuScheduler#leave} and is then closed to new work.
 *
 * <p>Thread-safety: {@link #submit} may be called from any number of threads at once (one per vCPU or device); it is
 * lock-free (a JCTools MPSC array queue plus one atomic counter) and allocates nothing. The queue is JCTools'
 * {@code MpscAtomicArrayQueue}, not {@code MpscArrayQueue}: the latter reaches {@code sun.misc.Unsafe}, which the
 * jctools module does not declare it reads (so it fails on the module path) and which JDK 24+ warns about. Everything else belongs to the
 * scheduler's thread.
 */
public final class VGpu {
    private static final VarHandle PENDING;

    static {
        try {
            PENDING = MethodHandles.lookup().findVarHandle(VGpu.class, "pending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int id;
    final GpuScheduler scheduler;
    final MpscAtomicArrayQueue<WorkItem> queue;
    final Completion completion;
    // Items submitted and not yet taken by the scheduler. Its 0 -> 1 step rings the scheduler's doorbell, so the
    // scheduler learns of new work without scanning every queue.
    @SuppressWarnings("unused")
    private volatile int pending;
    volatile boolean closed;

    // Scheduler-thread state (its caps and reservation live in the scheduler's ShareLimits).
    VGpuConfig config;
    boolean backlogged, leaving, gone;

    VGpu(int id, GpuScheduler scheduler, int queueCapacity, Completion completion, VGpuConfig config) {
        this.id = id;
        this.scheduler = scheduler;
        this.queue = new MpscAtomicArrayQueue<>(queueCapacity);
        this.completion = completion;
        this.config = config;
    }

    /** @return its id on the engine, 0 to maxVGpus-1 (reused after it leaves) */
    public int id() {
        return id;
    }

    /** @return its configuration (the scheduler's thread changes it on reweight) */
    public VGpuConfig config() {
        return config;
    }

    /** @return whether it has left (or is leaving) and refuses new work */
    public boolean isClosed() {
        return closed;
    }

    /** @return items submitted and not yet started */
    public int pending() {
        return (int) PENDING.getVolatile(this);
    }

    /**
     * Submits {@code item}, stamped with the engine's clock. Lock-free; allocates nothing.
     *
     * @return true when queued; false when refused (queue full or vGPU closed): the item is then
     *     {@link WorkStatus#REJECTED} and still the caller's
     */
    public boolean submit(WorkItem item) {
        return submit(item, scheduler.engine().now());
    }

    /**
     * Submits {@code item} as if at {@code submittedNanos} (a simulation's arrival time).
     *
     * @see #submit(WorkItem)
     */
    public boolean submit(WorkItem item, long submittedNanos) {
        if (closed) {
            item.status = WorkStatus.REJECTED;
            return false;
        }
        item.submittedNanos = submittedNanos;
        item.status = WorkStatus.QUEUED;
        if (!queue.offer(item)) {
            item.status = WorkStatus.REJECTED;
            return false;
        }
        // Offer before counting: whoever sees the count sees the item.
        if ((int) PENDING.getAndAdd(this, 1) == 0) {
            scheduler.ring(this);
        }
        return true;
    }

    int decrementPending() {
        return (int) PENDING.getAndAdd(this, -1) - 1;
    }

    @Override
    public String toString() {
        return "vGPU " + id;
    }
}
