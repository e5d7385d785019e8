package io.isthmus.sched;

/**
 * Where a vGPU's finished work goes: called once per item, on the scheduler's thread, with the item's status
 * {@link WorkStatus#COMPLETED} or {@link WorkStatus#RETURNED}. It may resubmit the item (items are reusable).
 * Implementations must not block.
 */
@FunctionalInterface
public interface Completion {
    /** Takes no action; for owners that poll {@link WorkItem#status()}. */
    Completion NONE = item -> { };

    /** @param item the item, its status and timestamps set */
    void done(WorkItem item);
}
