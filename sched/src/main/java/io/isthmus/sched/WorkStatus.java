package io.isthmus.sched;

/** Where a {@link WorkItem} stands. */
public enum WorkStatus {
    /** Made or recycled by its owner, not yet submitted. */
    NEW,
    /** In its vGPU's submission queue. */
    QUEUED,
    /** Ran to completion on the engine. */
    COMPLETED,
    /** Handed back unrun because its vGPU left the engine (see {@link LeaveMode#RETURN}). */
    RETURNED,
    /** Refused at submission: the vGPU's queue was full or the vGPU had left. The owner still holds it. */
    REJECTED
}
