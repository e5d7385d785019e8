package io.isthmus.sched.engine;

/**
 * Work arriving on a {@link SimulatedEngine}'s virtual clock: the engine asks when the next arrival is and has arrivals
 * delivered (submitted to the scheduler) as its clock passes them. Called on the scheduler's thread.
 */
public interface ArrivalSource {
    /** @return virtual time of the next arrival, or {@link Long#MAX_VALUE} when none is coming */
    long nextArrivalNanos();

    /** Submits every arrival due at or before {@code now}. */
    void deliverUpTo(long now);
}
