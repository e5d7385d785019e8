package io.isthmus.sched.sim;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.LeaveMode;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.Durations;

/**
 * One simulated vGPU: its configuration and workload. Immutable.
 *
 * @param config      its scheduling parameters
 * @param durations   its work items' durations
 * @param load        {@link #BACKLOGGED} (always has work), 0 (joins but never submits) or the offered load as a
 *                    fraction of the engine (Poisson arrivals at load / mean duration)
 * @param joinAtNanos virtual time it joins
 * @param leaveAtNanos virtual time it leaves, or Long.MAX_VALUE
 * @param leaveMode   what happens to its queued work when it leaves
 */
public record VGpuSpec(VGpuConfig config, Durations durations, double load, long joinAtNanos, long leaveAtNanos,
                       LeaveMode leaveMode) {
    /** {@code load}: always has work queued. */
    public static final double BACKLOGGED = Double.POSITIVE_INFINITY;

    /** @throws ConfigurationException when the load is negative or the times are out of order */
    public VGpuSpec {
        if (!(load >= 0)) {
            throw new ConfigurationException("offered load " + load + " must be 0 (idle), a positive fraction of the"
                    + " engine, or backlogged");
        }
        if (joinAtNanos < 0 || leaveAtNanos <= joinAtNanos) {
            throw new ConfigurationException("a vGPU must join at time 0 or later and leave after it joins (join "
                    + joinAtNanos + " ns, leave " + leaveAtNanos + " ns)");
        }
    }

    /** @return an always-backlogged vGPU present for the whole run */
    public static VGpuSpec backlogged(VGpuConfig config, Durations durations) {
        return new VGpuSpec(config, durations, BACKLOGGED, 0, Long.MAX_VALUE, LeaveMode.DRAIN);
    }

    /** @return a vGPU that joins at time 0 and never submits work */
    public static VGpuSpec idle(VGpuConfig config) {
        return new VGpuSpec(config, new Durations.Fixed(1), 0, 0, Long.MAX_VALUE, LeaveMode.DRAIN);
    }

    /** @return a vGPU offering {@code load} of the engine as Poisson arrivals */
    public static VGpuSpec open(VGpuConfig config, Durations durations, double load) {
        return new VGpuSpec(config, durations, load, 0, Long.MAX_VALUE, LeaveMode.DRAIN);
    }

    /** @return this spec joining at {@code t} */
    public VGpuSpec joinAt(long t) {
        return new VGpuSpec(config, durations, load, t, leaveAtNanos, leaveMode);
    }

    /** @return this spec leaving at {@code t} with {@code mode} */
    public VGpuSpec leaveAt(long t, LeaveMode mode) {
        return new VGpuSpec(config, durations, load, joinAtNanos, t, mode);
    }
}
