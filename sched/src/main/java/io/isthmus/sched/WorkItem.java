package io.isthmus.sched;

/**
 * One unit of GPU work (a kernel launch or command buffer), run without preemption. Owned by the code that submits
 * it, which may reuse it once it is back ({@link Completion}); submitting and running allocate nothing.
 *
 * <p>Thread-safety: written by its owner before {@link VGpu#submit}, then by the scheduler's thread until it is handed
 * back; the submission queue's release/acquire ordering publishes the fields between them.
 */
public final class WorkItem {
    private long durationNanos;
    private Object payload;
    long submittedNanos;
    long startedNanos;
    long completedNanos;
    WorkStatus status = WorkStatus.NEW;

    /** An empty item. */
    public WorkItem() {
    }

    /** @param durationNanos how long the item runs on a simulated engine (real engines measure it) */
    public WorkItem(long durationNanos) {
        this.durationNanos = durationNanos;
    }

    /** @return how long a simulated engine runs it */
    public long durationNanos() {
        return durationNanos;
    }

    /** @param nanos how long a simulated engine runs it; @return this */
    public WorkItem durationNanos(long nanos) {
        this.durationNanos = nanos;
        return this;
    }

    /** @return what a real engine runs (a command buffer), or null */
    public Object payload() {
        return payload;
    }

    /** @param p what a real engine runs; @return this */
    public WorkItem payload(Object p) {
        this.payload = p;
        return this;
    }

    /** @return its status */
    public WorkStatus status() {
        return status;
    }

    /** @return engine time at submission */
    public long submittedNanos() {
        return submittedNanos;
    }

    /** @return engine time it started running */
    public long startedNanos() {
        return startedNanos;
    }

    /** @return engine time it completed or was returned */
    public long completedNanos() {
        return completedNanos;
    }
}
