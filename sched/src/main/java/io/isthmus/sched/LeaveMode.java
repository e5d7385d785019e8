package io.isthmus.sched;

/** What happens to a leaving vGPU's queued work. Either way no item is dropped silently. */
public enum LeaveMode {
    /** Keep scheduling the vGPU until its queue is empty; every queued item completes. New submissions are refused. */
    DRAIN,
    /** Leave now; every queued item goes back to its owner's {@link Completion} with {@link WorkStatus#RETURNED}. */
    RETURN
}
