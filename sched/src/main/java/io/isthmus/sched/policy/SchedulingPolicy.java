package io.isthmus.sched.policy;

import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.Policy;

/**
 * Decides which vGPU gets the engine next and for how long. vGPUs are dense ids {@code 0 .. capacity()-1}.
 *
 * <p>The protocol per turn: {@link #pick()}, then {@link #grant(int)} for the vGPU picked, then {@link #charge(int, long)}
 * with the engine time it actually used (which exceeds the grant when its last item overran). {@link #backlogged} and
 * {@link #drained} report a vGPU gaining or losing work. Decisions allocate nothing.
 *
 * <p>Whether a policy is work-conserving is a property of the {@link Policy} a configuration names, stated once there;
 * an implementation only has to behave so.
 *
 * <p>Thread-safety: none; one thread (the scheduler's) drives a policy.
 */
public interface SchedulingPolicy {
    /** {@link #pick()}: nobody to run; the engine may idle until work arrives. */
    int NONE = -1;
    /** {@link #pick()}: the turn of an empty fixed-share slot; the engine idles for {@code grant(IDLE_SLOT)}. */
    int IDLE_SLOT = -2;

    /** @return the number of vGPU ids this policy has room for */
    int capacity();

    /** vGPU {@code v} joins, without work. */
    void join(int v, int weight, LatencyClass latency);

    /** vGPU {@code v} leaves; it is drained first if it had work. */
    void leave(int v);

    /** vGPU {@code v}'s weight changes; what it is owed or owes is kept. */
    void reweight(int v, int weight);

    /** vGPU {@code v} now has work. */
    void backlogged(int v);

    /** vGPU {@code v} has no work left (or is capped for a while). */
    void drained(int v);

    /**
     * @return the next vGPU to run; under a policy that is not work-conserving ({@link Policy#workConserving()})
     *     possibly one without work (its turn then stays idle), {@link #IDLE_SLOT} or {@link #NONE}
     */
    int pick();

    /** @return the slice granted to {@code v} (or to {@link #IDLE_SLOT}) for this turn, in ns, possibly 0 */
    long grant(int v);

    /** {@code v} used the engine for {@code ranNanos} during its turn (or a reservation's extra turn). */
    void charge(int v, long ranNanos);

    /**
     * @return what {@code v} owes, ns: engine time it ran beyond its share that its later turns have not yet made up
     *     (0 when it is owed or even). A policy without such accounting owes nothing.
     */
    default long debtNanos(int v) {
        return 0;
    }

    /**
     * {@code v}, joined, takes on a debt of {@code nanos} (the debt of the vGPU it replaces: the same tenant's device
     * reset): it waits as long as that one would have. A policy without such accounting ignores it.
     */
    default void owe(int v, long nanos) {
    }
}
