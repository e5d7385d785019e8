package io.isthmus.sched.policy;

import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;

/**
 * Weighted proportional share with bounded lag, in the style of EEVDF (Stoica et al.; Linux's scheduler since 6.6).
 *
 * <p>Each vGPU has a virtual start time {@code S}; the engine's virtual time {@code V} advances by the engine time
 * used divided by the total weight of the vGPUs with work, and {@code S} by the time the vGPU itself used divided by its
 * weight. A vGPU is eligible when {@code S <= V} (it has received no more than its weighted share); among eligible vGPUs
 * the one whose request ends first in virtual time ({@code S + slice/weight}) runs. Because {@code S} is charged the
 * time actually used, an overrun is debt carried into later slices: the vGPU stays ineligible until the others have
 * caught up. Lag (service owed minus service received) stays within one slice plus one work item.
 *
 * <p>Decisions cost O(distinct weights), not O(vGPUs): vGPUs of one weight and latency class wait in a FIFO bucket
 * (round robin within the bucket is what virtual time would pick among equals, since each turn advances {@code S} by
 * the same request), and only the buckets' heads are compared, from a dense array. Virtual times are longs in units of
 * ns × 2^16 / weight compared wrap-safely ({@code a - b < 0}), so they may wrap without harm.
 *
 * <p>Thread-safety: none (see {@link SchedulingPolicy}).
 */
public final class WeightedFairPolicy implements SchedulingPolicy {
    private static final int VT_SHIFT = 16;
    private static final long ONE = 1L << 32;
    private static final int GROUPS = 2 * VGpuConfig.MAX_WEIGHT;
    private static final long INELIGIBLE = 1L << 61, NO_KEY = 1L << 62;

    private final SchedulerConfig config;
    private final int capacity;
    // Per vGPU.
    private final long[] start, recip, credit;
    private final int[] weight, groupOf, gnext, gprev;
    private final boolean[] joined, queued;
    // Per bucket (weight × latency class).
    private final int[] head = new int[GROUPS], tail = new int[GROUPS], size = new int[GROUPS];
    private final int[] activePos = new int[GROUPS];
    private final long[] requestVt = new long[GROUPS], requestNs = new long[GROUPS];
    // Buckets with work, dense, so pick() streams through three arrays.
    private final int[] activeGroup = new int[GROUPS];
    private final long[] activeHeadS = new long[GROUPS], activeReq = new long[GROUPS];
    private int activeCount;

    private long vnow;
    private long sumWeight;
    private long recipSum;
    private int joinedCount;
    private long baseSlice;

    /** @param config a weighted policy's configuration */
    public WeightedFairPolicy(SchedulerConfig config) {
        this.config = config;
        this.capacity = config.maxVGpus();
        start = new long[capacity];
        recip = new long[capacity];
        credit = new long[capacity];
        weight = new int[capacity];
        groupOf = new int[capacity];
        gnext = new int[capacity];
        gprev = new int[capacity];
        joined = new boolean[capacity];
        queued = new boolean[capacity];
        java.util.Arrays.fill(activePos, -1);
        java.util.Arrays.fill(head, -1);
        updateSlice();
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public boolean workConserving() {
        return true;
    }

    /** @return the slice a normal-latency vGPU is granted */
    public long baseSlice() {
        return baseSlice;
    }

    /**
     * @return what {@code v} is owed (positive) or owes (negative) relative to its weighted share of the engine time
     *     used since it last gained work, in ns, by this policy's own accounting
     */
    public long lagNanos(int v) {
        return ((vnow - start[v]) * weight[v]) >> VT_SHIFT;
    }

    /** The most engine time one charge counts (2.1 s): keeps ran × recip (recip <= 2^32) below 2^63. */
    private static final long MAX_CHARGE = (1L << 31) - 1;

    /** (ran × recip) >> 16, ran clamped to {@link #MAX_CHARGE}: one multiply and a shift on the hot path. */
    private static long scale(long ran, long r) {
        return (Math.min(ran, MAX_CHARGE) * r) >>> VT_SHIFT;
    }

    private static int groupFor(int weight, boolean interactive) {
        return ((weight - 1) << 1) | (interactive ? 1 : 0);
    }

    private void updateSlice() {
        long s = config.sliceFor(Math.max(1, joinedCount));
        if (s == baseSlice) {
            return;
        }
        baseSlice = s;
        for (int g = 0; g < GROUPS; g++) {
            long w = (g >> 1) + 1;
            long request = (g & 1) != 0 ? Math.max(s / 4, 1) : s;
            requestNs[g] = request;
            requestVt[g] = scale(request, ONE / w);
        }
        for (int i = 0; i < activeCount; i++) {
            activeReq[i] = requestVt[activeGroup[i]];
        }
    }

    @Override
    public void join(int v, int w, LatencyClass latency) {
        joined[v] = true;
        queued[v] = false;
        weight[v] = w;
        recip[v] = ONE / w;
        groupOf[v] = groupFor(w, latency == LatencyClass.INTERACTIVE);
        start[v] = vnow;
        credit[v] = 0;
        joinedCount++;
        updateSlice();
    }

    @Override
    public void leave(int v) {
        if (queued[v]) {
            drained(v);
        }
        joined[v] = false;
        joinedCount--;
        updateSlice();
    }

    @Override
    public void reweight(int v, int w) {
        boolean was = queued[v];
        if (was) {
            unqueue(v);
        }
        // Keep what it is owed or owes in ns: lag = (V - S) * w is invariant.
        long lagScaled = (vnow - start[v]) * weight[v];
        weight[v] = w;
        recip[v] = ONE / w;
        groupOf[v] = groupFor(w, (groupOf[v] & 1) != 0);
        start[v] = vnow - lagScaled / w;
        if (was) {
            enqueue(v);
        }
    }

    @Override
    public void backlogged(int v) {
        if (queued[v]) {
            return;
        }
        // No credit for time without work: a vGPU that owes keeps owing, one that was owed starts even.
        if (start[v] - vnow < 0) {
            start[v] = vnow;
        }
        enqueue(v);
    }

    @Override
    public void drained(int v) {
        if (queued[v]) {
            unqueue(v);
        }
    }

    @Override
    public int pick() {
        final int n = activeCount;
        if (n == 0) {
            return NONE;
        }
        final long[] hs = activeHeadS, rq = activeReq;
        final long vt = vnow;
        // Eligible buckets (S <= V) rank by virtual deadline relative to V; ineligible ones rank after every eligible
        // one, by start (rounding can leave nobody exactly eligible; then the one closest to eligibility runs). Keys
        // are relative to V, so wrapped virtual times compare correctly. (Four independent minima or a branch-free
        // select measured slower than this with 16 buckets.)
        int best = 0;
        long bestKey = NO_KEY;
        for (int i = 0; i < n; i++) {
            long k = key(hs[i], rq[i], vt);
            if (k < bestKey) {
                bestKey = k;
                best = i;
            }
        }
        return head[activeGroup[best]];
    }

    /** A bucket head's rank: deadline - V when eligible, else INELIGIBLE + (S - V); both below 2^62. */
    private static long key(long s, long request, long vt) {
        long diff = s - vt;
        long eligible = (diff - 1) >> 63; // all ones when diff <= 0
        return (eligible & (diff + request)) | (~eligible & (INELIGIBLE + diff));
    }

    @Override
    public long grant(int v) {
        if (v < 0) {
            return baseSlice;
        }
        // Debt carried across slices: a turn is worth one request; what an overrun took beyond it comes off the next
        // turns, so every turn advances S by one request on average and the buckets' FIFO order stays S order.
        return Math.max(0, requestNs[groupOf[v]] + credit[v]);
    }

    @Override
    public void charge(int v, long ranNanos) {
        final int g = groupOf[v];
        credit[v] = Math.min(0, credit[v] + requestNs[g] - ranNanos);
        if (ranNanos > 0 && sumWeight > 0) {
            vnow += scale(ranNanos, recipSum);
            start[v] += scale(ranNanos, recip[v]);
        }
        if (queued[v]) {
            if (size[g] > 1) {
                // To the back of its bucket; the usual case is the head, which needs no search.
                int t = tail[g];
                if (head[g] == v) {
                    int n = gnext[v];
                    head[g] = n;
                    gprev[n] = -1;
                    gnext[t] = v;
                    gprev[v] = t;
                    gnext[v] = -1;
                    tail[g] = v;
                } else if (t != v) {
                    unlinkFromGroup(v, g);
                    appendToGroup(v, g);
                }
            }
            activeHeadS[activePos[g]] = start[head[g]];
        }
    }

    private void enqueue(int v) {
        queued[v] = true;
        long w = weight[v];
        sumWeight += w;
        recipSum = ONE / sumWeight;
        // The converse of unqueue's adjustment: joining with lag l moves V by -l / (new total weight).
        vnow -= (vnow - start[v]) * w / sumWeight;
        int g = groupOf[v];
        appendToGroup(v, g);
        if (activePos[g] < 0) {
            int i = activeCount++;
            activePos[g] = i;
            activeGroup[i] = g;
            activeReq[i] = requestVt[g];
        }
        activeHeadS[activePos[g]] = start[head[g]];
    }

    private void unqueue(int v) {
        queued[v] = false;
        long w = weight[v];
        sumWeight -= w;
        if (sumWeight > 0) {
            recipSum = ONE / sumWeight;
            // EEVDF's adjustment: a vGPU leaving with lag l moves V by l / (remaining weight), so the remaining vGPUs'
            // weighted lags still sum to zero and one of them is always eligible.
            vnow += (vnow - start[v]) * w / sumWeight;
        } else {
            recipSum = 0;
        }
        int g = groupOf[v];
        unlinkFromGroup(v, g);
        if (size[g] == 0) {
            int i = activePos[g], last = --activeCount;
            if (i != last) {
                int moved = activeGroup[last];
                activeGroup[i] = moved;
                activeHeadS[i] = activeHeadS[last];
                activeReq[i] = activeReq[last];
                activePos[moved] = i;
            }
            activePos[g] = -1;
        } else {
            activeHeadS[activePos[g]] = start[head[g]];
        }
    }

    private void appendToGroup(int v, int g) {
        int t = tail[g];
        if (size[g]++ == 0) {
            head[g] = v;
            gprev[v] = -1;
        } else {
            gnext[t] = v;
            gprev[v] = t;
        }
        gnext[v] = -1;
        tail[g] = v;
    }

    private void unlinkFromGroup(int v, int g) {
        int p = gprev[v], n = gnext[v];
        if (p >= 0) {
            gnext[p] = n;
        } else {
            head[g] = n;
        }
        if (n >= 0) {
            gprev[n] = p;
        } else {
            tail[g] = p;
        }
        size[g]--;
    }
}
