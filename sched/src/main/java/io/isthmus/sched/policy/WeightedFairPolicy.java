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
 * <p>Decisions cost O(log distinct weights), not O(vGPUs): vGPUs of one weight and latency class wait in a circular FIFO
 * bucket (round robin within the bucket is what virtual time would pick among equals, since each turn advances
 * {@code S} by the same request), and the buckets with work sit in two small indexed binary heaps: the eligible ones
 * ({@code S <= V}) by virtual deadline, the others by start. {@link #pick()} reads the root; {@link #charge} re-keys the
 * one bucket whose head changed and moves the buckets that {@code V}'s advance made eligible, each bucket at most once
 * per turn of its own, so a decision touches O(log buckets) entries instead of scanning every bucket (with at most
 * eight buckets with work, a branch-free scan of them is cheaper and is used instead). Ties break by
 * bucket index, so decisions are deterministic. Virtual times are longs in units of ns × 2^16 / weight compared
 * wrap-safely ({@code a - b < 0}), so they may wrap without harm.
 *
 * <p>Thread-safety: none (see {@link SchedulingPolicy}).
 */
public final class WeightedFairPolicy implements SchedulingPolicy {
    private static final int VT_SHIFT = 16;
    private static final long ONE = 1L << 32;
    private static final int GROUPS = 2 * VGpuConfig.MAX_WEIGHT;
    private static final byte NOWHERE = 0, ELIGIBLE = 1, WAITING = 2;
    /**
     * Heap keys carry the bucket index in their low bits, so one wrap-safe subtraction orders them and breaks ties by
     * index. Virtual-time distances between queued vGPUs stay far below 2^(63 - IDX_BITS) (lag is bounded by a slice
     * plus one clamped charge, under 2^48), so the shift loses nothing that a comparison needs.
     */
    private static final int IDX_BITS = 32 - Integer.numberOfLeadingZeros(GROUPS - 1);
    private static final long IDX_MASK = (1L << IDX_BITS) - 1;
    /**
     * Up to this many buckets with work, {@link #pick()} scans them instead of keeping heaps: with one vGPU per bucket
     * every turn moves two buckets between the heaps, and a branch-free scan of a few entries costs less than those
     * four data-dependent sifts (measured: 8 single-vGPU buckets, heap 65-70 ns/op, scan 30-40 ns/op).
     */
    public static final int SCAN_MAX_BUCKETS = 8;
    /** Scan rank of a bucket that is not eligible: after every eligible one. */
    private static final long INELIGIBLE = 1L << 61;

    private final SchedulerConfig config;
    private final int capacity;
    // Per vGPU. gnext/gprev link each bucket's members into a circle, so a turn's rotation is one store.
    private final long[] start, recip, credit;
    private final int[] weight, groupOf, gnext, gprev;
    private final boolean[] joined, queued;
    // Per bucket (weight × latency class): circle head (-1 when empty), member count, request, and the head's heap
    // keys: (S << IDX_BITS) | bucket and (deadline << IDX_BITS) | bucket.
    private final int[] head = new int[GROUPS], size = new int[GROUPS];
    private final long[] requestVt = new long[GROUPS], requestNs = new long[GROUPS];
    private final long[] headS = new long[GROUPS], headD = new long[GROUPS];
    // Buckets with work, dense, for rebuilding the heaps without visiting all GROUPS.
    private final int[] activeGroup = new int[GROUPS], activePos = new int[GROUPS];
    private int activeCount;
    // The two heaps of buckets with work: eligible ones keyed by deadline (headD), waiting ones keyed by start (headS).
    private final int[] eHeap = new int[GROUPS], wHeap = new int[GROUPS], heapPos = new int[GROUPS];
    private final byte[] where = new byte[GROUPS];
    private int eSize, wSize;
    private boolean heapMode;
    private final int scanMaxBuckets;

    private long vnow;
    private long sumWeight;
    private long recipSum;
    private int joinedCount;
    private long baseSlice;

    /** @param config a weighted policy's configuration */
    public WeightedFairPolicy(SchedulerConfig config) {
        this(config, SCAN_MAX_BUCKETS);
    }

    /**
     * A policy that scans up to {@code scanMaxBuckets} buckets with work and keeps heaps above that; both ways make
     * the same decisions, so this only moves the cost (tests pin each way with 0 and {@link Integer#MAX_VALUE}).
     *
     * @param config a weighted policy's configuration
     * @param scanMaxBuckets the most buckets with work for which {@link #pick()} scans; the default is
     *     {@link #SCAN_MAX_BUCKETS}
     */
    public WeightedFairPolicy(SchedulerConfig config, int scanMaxBuckets) {
        this.scanMaxBuckets = scanMaxBuckets;
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
        java.util.Arrays.fill(head, -1);
        updateSlice();
    }

    @Override
    public int capacity() {
        return capacity;
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
        rebuildHeaps();
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
        rebuildHeaps();
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
        rebuildHeaps();
    }

    @Override
    public void drained(int v) {
        if (queued[v]) {
            unqueue(v);
            rebuildHeaps();
        }
    }

    @Override
    public int pick() {
        // Eligible buckets (S <= V) rank by virtual deadline; when none is (rounding can leave nobody exactly
        // eligible), the one closest to eligibility runs.
        if (heapMode) {
            if (eSize > 0) {
                return head[eHeap[0]];
            }
            return head[wHeap[0]];
        }
        final int n = activeCount;
        if (n == 0) {
            return NONE;
        }
        final int[] ag = activeGroup;
        final long[] hs = headS, hd = headD;
        final long base = vnow << IDX_BITS, limit = base | IDX_MASK;
        int best = ag[0];
        long bestKey = Long.MAX_VALUE;
        for (int a = 0; a < n; a++) {
            int g = ag[a];
            long s = hs[g];
            // Eligible: deadline - V; else INELIGIBLE + (S - V). Keys end in the bucket index, so they are distinct.
            long k = s - limit <= 0 ? hd[g] - base : INELIGIBLE + (s - base);
            if (k < bestKey) {
                bestKey = k;
                best = g;
            }
        }
        return head[best];
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
        long vt = vnow;
        if (ranNanos > 0 && sumWeight > 0) {
            vt += scale(ranNanos, recipSum);
            vnow = vt;
            start[v] += scale(ranNanos, recip[v]);
        }
        if (queued[v]) {
            // To the back of its bucket: the head's successor becomes head, the head the circle's tail.
            int h = head[g];
            if (h == v) {
                h = gnext[v];
                head[g] = h;
            } else if (gprev[h] != v) {
                unlinkFromGroup(v, g);
                appendToGroup(v, g);
            }
            if (heapMode) {
                rekey(g, vt);
            } else {
                long st = start[head[g]];
                headS[g] = (st << IDX_BITS) | g;
                headD[g] = ((st + requestVt[g]) << IDX_BITS) | g;
            }
        }
        if (heapMode) {
            promote(vt);
        }
    }

    /** Bucket {@code g}'s head or its start changed: its keys, and its heap, follow. */
    private void rekey(int g, long vt) {
        long s = start[head[g]];
        headS[g] = (s << IDX_BITS) | g;
        headD[g] = ((s + requestVt[g]) << IDX_BITS) | g;
        boolean eligible = s - vt <= 0;
        int i = heapPos[g];
        if (where[g] == ELIGIBLE) {
            if (eligible) {
                siftDown(eHeap, headD, eSize, i, g);
                siftUp(eHeap, headD, heapPos[g], g);
            } else {
                eSize = removeAt(eHeap, headD, eSize, i);
                where[g] = WAITING;
                siftUp(wHeap, headS, wSize++, g);
            }
        } else {
            if (eligible) {
                wSize = removeAt(wHeap, headS, wSize, i);
                where[g] = ELIGIBLE;
                siftUp(eHeap, headD, eSize++, g);
            } else {
                siftDown(wHeap, headS, wSize, i, g);
                siftUp(wHeap, headS, heapPos[g], g);
            }
        }
    }

    /** V advanced to {@code vt}: the waiting buckets it reached become eligible. */
    private void promote(long vt) {
        // headS[g] - (V << IDX_BITS | IDX_MASK) <= 0 exactly when S <= V.
        final long limit = (vt << IDX_BITS) | IDX_MASK;
        while (wSize > 0) {
            int g = wHeap[0];
            if (headS[g] - limit > 0) {
                return;
            }
            wSize = removeAt(wHeap, headS, wSize, 0);
            where[g] = ELIGIBLE;
            siftUp(eHeap, headD, eSize++, g);
        }
    }

    /** Wrap-safe order on a heap's key; keys are distinct (they end in the bucket index). */
    private static boolean before(long[] key, int a, int b) {
        return key[a] - key[b] < 0;
    }

    private void siftUp(int[] heap, long[] key, int i, int g) {
        final int[] pos = heapPos;
        while (i > 0) {
            int p = (i - 1) >>> 1;
            int q = heap[p];
            if (!before(key, g, q)) {
                break;
            }
            heap[i] = q;
            pos[q] = i;
            i = p;
        }
        heap[i] = g;
        pos[g] = i;
    }

    private void siftDown(int[] heap, long[] key, int n, int i, int g) {
        final int[] pos = heapPos;
        while (true) {
            int c = 2 * i + 1;
            if (c >= n) {
                break;
            }
            int q = heap[c];
            if (c + 1 < n) {
                int r = heap[c + 1];
                if (before(key, r, q)) {
                    c++;
                    q = r;
                }
            }
            if (!before(key, q, g)) {
                break;
            }
            heap[i] = q;
            pos[q] = i;
            i = c;
        }
        heap[i] = g;
        pos[g] = i;
    }

    /** Removes the entry at {@code i} of a heap of {@code n}; returns the new size. */
    private int removeAt(int[] heap, long[] key, int n, int i) {
        int last = heap[--n];
        if (i < n) {
            siftDown(heap, key, n, i, last);
            siftUp(heap, key, heapPos[last], last);
        }
        return n;
    }

    /**
     * Recomputes every bucket's keys and rebuilds both heaps (or chooses scanning, with few buckets) from the buckets
     * with work: after V moved either way (a vGPU gaining or losing work shifts V
     * by its lag), after a head changed outside a turn, or after the requests changed. O(buckets with work × log), off
     * the per-decision path.
     */
    private void rebuildHeaps() {
        eSize = 0;
        wSize = 0;
        final long vt = vnow;
        java.util.Arrays.fill(where, NOWHERE);
        heapMode = activeCount > scanMaxBuckets;
        for (int a = 0; a < activeCount; a++) {
            int g = activeGroup[a];
            long s = start[head[g]];
            headS[g] = (s << IDX_BITS) | g;
            headD[g] = ((s + requestVt[g]) << IDX_BITS) | g;
            if (!heapMode) {
                continue;
            }
            if (s - vt <= 0) {
                where[g] = ELIGIBLE;
                siftUp(eHeap, headD, eSize++, g);
            } else {
                where[g] = WAITING;
                siftUp(wHeap, headS, wSize++, g);
            }
        }
    }

    private void enqueue(int v) {
        queued[v] = true;
        long w = weight[v];
        sumWeight += w;
        recipSum = ONE / sumWeight;
        // The converse of unqueue's adjustment: joining with lag l moves V by -l / (new total weight).
        vnow -= (vnow - start[v]) * w / sumWeight;
        appendToGroup(v, groupOf[v]);
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
        unlinkFromGroup(v, groupOf[v]);
    }

    /** Inserts {@code v} as bucket {@code g}'s tail (just before its head in the circle). */
    private void appendToGroup(int v, int g) {
        int h = head[g];
        if (size[g]++ == 0) {
            int a = activeCount++;
            activeGroup[a] = g;
            activePos[g] = a;
            head[g] = v;
            gnext[v] = v;
            gprev[v] = v;
        } else {
            int t = gprev[h];
            gnext[t] = v;
            gprev[v] = t;
            gnext[v] = h;
            gprev[h] = v;
        }
    }

    private void unlinkFromGroup(int v, int g) {
        if (--size[g] == 0) {
            head[g] = -1;
            int a = activePos[g], last = --activeCount;
            int moved = activeGroup[last];
            activeGroup[a] = moved;
            activePos[moved] = a;
            return;
        }
        int p = gprev[v], n = gnext[v];
        gnext[p] = n;
        gprev[n] = p;
        if (head[g] == v) {
            head[g] = n;
        }
    }
}
