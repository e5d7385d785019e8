package io.isthmus.sched.policy;

import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.SchedulerConfig;

/**
 * The baseline: weighted stride scheduling that finds the next vGPU by scanning every vGPU, as Intel GVT-g's
 * {@code find_busy_vgpu()} walks its run queue. Correct but O(n) per decision; it exists so the benchmarks show how
 * {@link WeightedFairPolicy} and {@link RoundRobinPolicy} grow differently with the number of vGPUs.
 *
 * <p>Thread-safety: none (see {@link SchedulingPolicy}).
 */
public final class LinearScanPolicy implements SchedulingPolicy {
    private final SchedulerConfig config;
    private final int capacity;
    private final long[] pass, stride;
    private final boolean[] joined, busy;
    private int joinedCount;
    private long minPass;

    /** @param config the configuration (its policy is ignored: this is always weighted stride by linear scan) */
    public LinearScanPolicy(SchedulerConfig config) {
        this.config = config;
        this.capacity = config.maxVGpus();
        pass = new long[capacity];
        stride = new long[capacity];
        joined = new boolean[capacity];
        busy = new boolean[capacity];
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public void join(int v, int weight, LatencyClass latency) {
        joined[v] = true;
        stride[v] = (1L << 32) / weight;
        pass[v] = minPass;
        joinedCount++;
    }

    @Override
    public void leave(int v) {
        joined[v] = false;
        busy[v] = false;
        joinedCount--;
    }

    @Override
    public void reweight(int v, int weight) {
        stride[v] = (1L << 32) / weight;
    }

    @Override
    public void backlogged(int v) {
        busy[v] = true;
        if (pass[v] - minPass < 0) {
            pass[v] = minPass;
        }
    }

    @Override
    public void drained(int v) {
        busy[v] = false;
    }

    @Override
    public int pick() {
        int best = NONE;
        long bestPass = 0;
        for (int v = 0; v < capacity; v++) {
            if (busy[v] && (best < 0 || pass[v] - bestPass < 0)) {
                best = v;
                bestPass = pass[v];
            }
        }
        if (best >= 0) {
            minPass = bestPass;
        }
        return best;
    }

    @Override
    public long grant(int v) {
        return config.sliceFor(Math.max(1, joinedCount));
    }

    @Override
    public void charge(int v, long ranNanos) {
        pass[v] += (ranNanos * stride[v]) >>> 16;
    }
}
