package io.isthmus.sched.engine;

import io.isthmus.sched.WorkItem;

/**
 * A deterministic GPU engine on a virtual clock: an item takes exactly its {@link WorkItem#durationNanos()}, a context
 * switch takes a fixed cost, and idling jumps the clock to the next arrival. Same seed, same run.
 *
 * <p>Lifetime: one simulation. Thread-safety: confined to the scheduler's thread (the virtual clock is not shared).
 */
public final class SimulatedEngine implements GpuEngine {
    private final long switchCostNanos;
    private ArrivalSource arrivals;
    private long clock;

    /** @param switchCostNanos what one context switch costs, in ns, 0 or more */
    public SimulatedEngine(long switchCostNanos) {
        if (switchCostNanos < 0) {
            throw new io.isthmus.sched.ConfigurationException("context-switch cost " + switchCostNanos
                    + " ns is negative; use 0 or more");
        }
        this.switchCostNanos = switchCostNanos;
    }

    /** @param source where work comes from as the clock advances, or null for none; @return this */
    public SimulatedEngine arrivals(ArrivalSource source) {
        this.arrivals = source;
        return this;
    }

    @Override
    public long now() {
        return clock;
    }

    @Override
    public long execute(WorkItem item) {
        long d = item.durationNanos();
        clock += d;
        deliver();
        return d;
    }

    @Override
    public long switchContext(int from, int to) {
        clock += switchCostNanos;
        deliver();
        return switchCostNanos;
    }

    @Override
    public void idleUntil(long deadline) {
        long t = deadline;
        if (arrivals != null) {
            t = Math.min(t, arrivals.nextArrivalNanos());
        }
        if (t == Long.MAX_VALUE) {
            return; // nothing will arrive on the virtual clock: work can only come from another thread, so do not jump
        }
        if (t > clock) {
            clock = t;
        }
        deliver();
    }

    private void deliver() {
        if (arrivals != null) {
            arrivals.deliverUpTo(clock);
        }
    }
}
