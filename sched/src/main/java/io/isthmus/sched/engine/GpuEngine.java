package io.isthmus.sched.engine;

import io.isthmus.sched.WorkItem;

/**
 * One GPU engine (a compute or copy engine): runs one vGPU's work items at a time, to completion (an item cannot be
 * preempted in the middle), and switches between vGPU contexts at a cost.
 *
 * <p>Lifetime: owned by one {@link io.isthmus.sched.GpuScheduler}. Thread-safety: every method is called from the
 * scheduler's thread only, except {@link #now()}, which producers may call to timestamp submissions, and
 * {@link #wake()}, which they call when they bring work.
 */
public interface GpuEngine {
    /** @return the engine's clock, in ns (virtual time for a simulated engine) */
    long now();

    /**
     * Runs {@code item} to completion.
     *
     * @return how long it ran, in ns
     */
    long execute(WorkItem item);

    /**
     * Switches the engine from vGPU {@code from}'s context (-1: none) to {@code to}'s.
     *
     * @return how long the switch took, in ns
     */
    long switchContext(int from, int to);

    /**
     * Leaves the engine idle until {@code deadline}, or earlier when new work may have arrived.
     *
     * @param deadline engine time to wake at most; {@link Long#MAX_VALUE}: only on new work
     */
    void idleUntil(long deadline);

    /**
     * New work may have arrived: an {@link #idleUntil} in progress on the scheduler's thread should return. Called from
     * any thread (a submitter whose queue was empty, a control request); must not block and should cost little when
     * the engine is not idle. Engines on a virtual clock ignore it.
     */
    default void wake() {
    }
}
