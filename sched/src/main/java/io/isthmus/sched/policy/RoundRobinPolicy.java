package io.isthmus.sched.policy;

import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;

/**
 * Round robin for {@link Policy#BEST_EFFORT}, {@link Policy#EQUAL_SHARE} and {@link Policy#FIXED_SHARE}, with NVIDIA's
 * adaptive slice and overrun averaging: a vGPU whose item ran past its slice owes the overrun, and its next slices are
 * shortened by (debt when it last grew) / averaging factor each until it is repaid.
 *
 * <p>The round is an intrusive doubly-linked ring over int arrays, so every operation is O(1) and allocates nothing.
 * Best effort rings the vGPUs that have work; equal share rings every joined vGPU (an idle one's turn stays idle);
 * fixed share walks all {@code maxVGpus} slots, joined or not.
 *
 * <p>Thread-safety: none (see {@link SchedulingPolicy}).
 */
public final class RoundRobinPolicy implements SchedulingPolicy {
    private final Policy mode;
    private final SchedulerConfig config;
    private final int capacity;
    private final long averagingFactor;
    private final int[] next, prev;
    private final boolean[] joined, inRing, interactive;
    private final long[] debt, repayStep, granted;
    private int cursor = NONE;
    private int ringSize, joinedCount;
    private long baseSlice;

    /** @param config a round-robin policy's configuration */
    public RoundRobinPolicy(SchedulerConfig config) {
        this.mode = config.policy();
        if (mode == Policy.WEIGHTED) {
            throw new IllegalArgumentException("RoundRobinPolicy does not do " + mode);
        }
        this.config = config;
        this.capacity = config.maxVGpus();
        this.averagingFactor = config.averagingFactor();
        next = new int[capacity];
        prev = new int[capacity];
        joined = new boolean[capacity];
        inRing = new boolean[capacity];
        interactive = new boolean[capacity];
        debt = new long[capacity];
        repayStep = new long[capacity];
        granted = new long[capacity];
        updateSlice();
    }

    @Override
    public int capacity() {
        return capacity;
    }

    /** @return the slice a vGPU without debt gets now */
    public long baseSlice() {
        return baseSlice;
    }

    /** @return the overrun {@code v} still owes, in ns */
    public long debt(int v) {
        return debt[v];
    }

    private void updateSlice() {
        baseSlice = config.sliceFor(mode == Policy.FIXED_SHARE ? capacity : Math.max(1, joinedCount));
    }

    @Override
    public void join(int v, int weight, LatencyClass latency) {
        joined[v] = true;
        interactive[v] = latency == LatencyClass.INTERACTIVE;
        debt[v] = 0;
        repayStep[v] = 0;
        joinedCount++;
        updateSlice();
        if (mode == Policy.EQUAL_SHARE) {
            link(v, false);
        }
    }

    @Override
    public void leave(int v) {
        if (inRing[v]) {
            unlink(v);
        }
        joined[v] = false;
        joinedCount--;
        updateSlice();
    }

    @Override
    public void reweight(int v, int weight) {
        // Round robin gives every vGPU the same share; weights only matter to the weighted policy.
    }

    @Override
    public void backlogged(int v) {
        if (mode == Policy.BEST_EFFORT && !inRing[v]) {
            link(v, interactive[v]);
        }
    }

    @Override
    public void drained(int v) {
        if (mode == Policy.BEST_EFFORT && inRing[v]) {
            unlink(v);
        }
    }

    @Override
    public int pick() {
        if (mode == Policy.FIXED_SHARE) {
            if (joinedCount == 0) {
                return NONE;
            }
            int c = cursor + 1;
            if (c >= capacity) {
                c = 0;
            }
            cursor = c;
            return joined[c] ? c : IDLE_SLOT;
        }
        if (ringSize == 0) {
            return NONE;
        }
        int c = next[cursor];
        cursor = c;
        return c;
    }

    @Override
    public long grant(int v) {
        long base = baseSlice;
        if (v < 0) {
            return base;
        }
        long d = debt[v];
        long g = base;
        if (d > 0) {
            long cut = Math.min(Math.min(d, repayStep[v]), base);
            debt[v] = d - cut;
            g = base - cut;
        }
        granted[v] = g;
        return g;
    }

    @Override
    public void charge(int v, long ranNanos) {
        long over = ranNanos - granted[v];
        if (over > 0) {
            long d = debt[v] + over;
            debt[v] = d;
            // Spread what is owed now over the next averagingFactor slices (ceiling, so it is repaid in time).
            repayStep[v] = (d + averagingFactor - 1) / averagingFactor;
        }
        granted[v] = 0;
    }

    // The ring: pick() serves next[cursor]; the vGPU at cursor was served last, so it is the end of the round.
    private void link(int v, boolean front) {
        inRing[v] = true;
        if (ringSize++ == 0) {
            next[v] = v;
            prev[v] = v;
            cursor = v;
            return;
        }
        // Front: right after the cursor, so it is served next. Back: right before the cursor, which was served last and
        // so ends the coming round; the newcomer then waits for everyone already waiting.
        int after = front ? cursor : prev[cursor];
        int n = next[after];
        next[after] = v;
        prev[v] = after;
        next[v] = n;
        prev[n] = v;
    }

    private void unlink(int v) {
        inRing[v] = false;
        if (--ringSize == 0) {
            cursor = NONE;
            return;
        }
        int p = prev[v], n = next[v];
        next[p] = n;
        prev[n] = p;
        if (cursor == v) {
            cursor = p;
        }
    }
}
