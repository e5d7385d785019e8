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
 * {@code S} by the same request), and only buckets are compared. Two ways to find the next bucket make the same
 * decisions and differ only in cost:
 * <ul>
 *   <li>a branch-free scan of the buckets with work, each ranked by deadline if eligible and by start after every
 *       eligible one if not: two loads and five operations a bucket, no branch to mispredict;
 *   <li>two tournament trees over the buckets with work (each inner node holds the smaller of its children's keys): one
 *       keys the eligible buckets by virtual deadline, the other the waiting ones by start, and a bucket is a live leaf
 *       in exactly one. {@link #pick()} reads a root; {@link #charge} replays the path of the one leaf that changed and
 *       moves the buckets that {@code V}'s advance made eligible, each at most once per turn of its own.
 * </ul>
 * The scan is used while at most {@link #SCAN_MAX_BUCKETS} buckets have work and they hold fewer than
 * {@link #TREE_MIN_MEMBERS} vGPUs each on average: with one vGPU per bucket every turn moves two buckets between the
 * trees, whose branches then go either way, while a bucket that holds many vGPUs changes tree rarely. Ties break by
 * bucket index, so decisions are deterministic and the same either way. Virtual times are longs in units of
 * ns × 2^16 / weight compared wrap-safely ({@code a - b < 0}), so they may wrap without harm; the scan and the trees
 * hold them relative to an epoch that follows {@code V} (renewed when {@code V} has moved 2^60 key units, about 17 s of
 * engine time at weight 1), so they compare with plain signed compares.
 *
 * <p>Thread-safety: none (see {@link SchedulingPolicy}).
 */
public final class WeightedFairPolicy implements SchedulingPolicy {
    private static final int VT_SHIFT = 16;
    private static final long ONE = 1L << 32;
    private static final int GROUPS = 2 * VGpuConfig.MAX_WEIGHT;
    /**
     * Keys carry the bucket index in their low bits, so one comparison orders them, breaks ties by index and names the
     * winner. Virtual-time distances between queued vGPUs stay far below 2^(63 - IDX_BITS) (lag is bounded by a slice
     * plus one clamped charge, under 2^48), so the shift loses nothing that a comparison needs.
     */
    private static final int IDX_BITS = 32 - Integer.numberOfLeadingZeros(GROUPS - 1);
    private static final long IDX_MASK = (1L << IDX_BITS) - 1;
    /**
     * Up to this many buckets with work, {@link #pick()} scans them instead of keeping the trees, unless they hold
     * {@link #TREE_MIN_MEMBERS} or more vGPUs each on average. With one vGPU per bucket every turn moves the charged
     * bucket from one tree to the other and another back, four path replays with branches that go either way, while
     * the scan has no branch at all: with 16 single-vGPU buckets a turn costs 22.7 ns with the scan and 35.3 ns with the
     * trees ({@code SchedWeightedBreakdownBenchmark} on the 2-core development machine under load 2-2.7). GVT-g's
     * weights (1-16) in both latency classes make at most 32 buckets.
     */
    public static final int SCAN_MAX_BUCKETS = 32;
    /**
     * From this many vGPUs per bucket with work (on average), the trees are kept even with few buckets: a bucket's head
     * then moves little in virtual time per turn, its leaf rarely changes tree, and a turn replays about one path. With
     * 16 buckets of 64 vGPUs a turn costs 15.8 ns with the trees and 25.1 ns with the scan; of 4 vGPUs, 22.0 and 23.6.
     */
    public static final int TREE_MIN_MEMBERS = 2;
    /** Taken off an eligible bucket's scan rank, so it ranks before every waiting one. */
    private static final long INELIGIBLE = 1L << 61;
    /** A tree leaf with no bucket in it (and an inner node with none below): larger than any relative key. */
    private static final long EMPTY = Long.MAX_VALUE;
    /** How far {@code V}, as a key, may move past the trees' epoch before they are rebuilt around it (about 17 s). */
    private static final long REBASE = 1L << 60;

    private final SchedulerConfig config;
    private final int capacity;
    // Per vGPU. gnext/gprev link each bucket's members into a circle, so a turn's rotation is one store. A vGPU's
    // weight and reciprocal follow from its bucket (recipOf), so a charge reads no per-vGPU weight.
    private final long[] start, credit;
    private final int[] groupOf, gnext, gprev;
    private final boolean[] joined, queued;
    // Per bucket (weight × latency class): circle head (-1 when empty), member count, reciprocal weight, request, and
    // the request as a key distance (deadline key = start key + requestKey).
    private final int[] head = new int[GROUPS], size = new int[GROUPS];
    private final long[] recipOf = new long[GROUPS];
    private final long[] requestVt = new long[GROUPS], requestNs = new long[GROUPS], requestKey = new long[GROUPS];
    // Buckets with work, dense; a bucket's position is its leaf in the trees. The scan reads only the dense scanS (the
    // head's start key relative to `epoch`) and scanReq (requestKey - INELIGIBLE): two sequential loads per bucket and
    // no indirection.
    private final int[] activeGroup = new int[GROUPS], activePos = new int[GROUPS];
    private final long[] scanS = new long[GROUPS], scanReq = new long[GROUPS];
    private int activeCount;
    // The tournament trees, in heap layout (node i's children are 2i and 2i + 1; leaf k of `leaves` is node leaves + k):
    // each node holds the smallest key below it, relative to `epoch`, EMPTY for none. eTree keys eligible buckets by
    // deadline, wTree waiting ones by start.
    private final long[] eTree = new long[2 * GROUPS], wTree = new long[2 * GROUPS];
    private int leaves = 1;
    private long epoch;
    private boolean treeMode;
    private final int scanMaxBuckets, treeMinMembers;
    private int queuedCount;

    private long vnow;
    private long sumWeight;
    private long recipSum;
    private int joinedCount;
    // The last pick and its bucket, until it is charged or anything else changes: the turn's grant and charge then know
    // v's bucket and that v is its head without loading either, which takes two dependent loads off every decision.
    private int pickedV = NONE, pickedG;
    private long baseSlice;

    /**
     * A policy that scans at most {@link #SCAN_MAX_BUCKETS} buckets with work holding fewer than
     * {@link #TREE_MIN_MEMBERS} vGPUs each on average, and keeps the trees otherwise.
     *
     * @param config a weighted policy's configuration
     */
    public WeightedFairPolicy(SchedulerConfig config) {
        this(config, SCAN_MAX_BUCKETS, TREE_MIN_MEMBERS);
    }

    /**
     * A policy that scans up to {@code scanMaxBuckets} buckets with work, however many vGPUs they hold, and keeps the
     * trees above that; both ways make the same decisions, so this only moves the cost (tests and benchmarks pin each
     * way with 0 and {@link Integer#MAX_VALUE}).
     *
     * @param config a weighted policy's configuration
     * @param scanMaxBuckets the most buckets with work for which {@link #pick()} scans
     */
    public WeightedFairPolicy(SchedulerConfig config, int scanMaxBuckets) {
        this(config, scanMaxBuckets, Integer.MAX_VALUE);
    }

    private WeightedFairPolicy(SchedulerConfig config, int scanMaxBuckets, int treeMinMembers) {
        this.scanMaxBuckets = scanMaxBuckets;
        this.treeMinMembers = treeMinMembers;
        this.config = config;
        this.capacity = config.maxVGpus();
        start = new long[capacity];
        credit = new long[capacity];
        groupOf = new int[capacity];
        gnext = new int[capacity];
        gprev = new int[capacity];
        joined = new boolean[capacity];
        queued = new boolean[capacity];
        java.util.Arrays.fill(head, -1);
        for (int g = 0; g < GROUPS; g++) {
            recipOf[g] = ONE / weightOf(g);
        }
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
        return ((vnow - start[v]) * weightOf(groupOf[v])) >> VT_SHIFT;
    }

    @Override
    public long debtNanos(int v) {
        // Owed to the other buckets (its start ahead of V) or within its own (turns it must skip: its credit).
        return joined[v] ? Math.max(0, Math.max(-lagNanos(v), -credit[v])) : 0;
    }

    @Override
    public void owe(int v, long nanos) {
        if (nanos <= 0 || !joined[v]) {
            return;
        }
        pickedV = NONE;
        boolean was = queued[v];
        if (was) {
            unqueue(v);
        }
        // Its start moves ahead of V by the debt: it becomes eligible once the others have had what it took from them
        // (and backlogged() keeps a start that is ahead).
        start[v] += scale(nanos, recipOf[groupOf[v]]);
        // Within its bucket vGPUs take turns in order, each turn worth one request: a debt is repaid by turns it skips.
        credit[v] = Math.max(-MAX_CHARGE, credit[v] - nanos);
        if (was) {
            enqueue(v);
        }
        rebuild();
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

    private static int weightOf(int group) {
        return (group >> 1) + 1;
    }

    private void updateSlice() {
        long s = config.sliceFor(Math.max(1, joinedCount));
        if (s == baseSlice) {
            return;
        }
        baseSlice = s;
        for (int g = 0; g < GROUPS; g++) {
            long w = weightOf(g);
            long request = (g & 1) != 0 ? Math.max(s / 4, 1) : s;
            requestNs[g] = request;
            requestVt[g] = scale(request, ONE / w);
            requestKey[g] = requestVt[g] << IDX_BITS;
        }
        rebuild();
    }

    @Override
    public void join(int v, int w, LatencyClass latency) {
        pickedV = NONE;
        joined[v] = true;
        queued[v] = false;
        groupOf[v] = groupFor(w, latency == LatencyClass.INTERACTIVE);
        start[v] = vnow;
        credit[v] = 0;
        joinedCount++;
        updateSlice();
    }

    @Override
    public void leave(int v) {
        pickedV = NONE;
        if (queued[v]) {
            drained(v);
        }
        joined[v] = false;
        joinedCount--;
        updateSlice();
    }

    @Override
    public void reweight(int v, int w) {
        pickedV = NONE;
        boolean was = queued[v];
        if (was) {
            unqueue(v);
        }
        // Keep what it is owed or owes in ns: lag = (V - S) * w is invariant.
        long lagScaled = (vnow - start[v]) * weightOf(groupOf[v]);
        groupOf[v] = groupFor(w, (groupOf[v] & 1) != 0);
        start[v] = vnow - lagScaled / w;
        if (was) {
            enqueue(v);
        }
        rebuild();
    }

    @Override
    public void backlogged(int v) {
        pickedV = NONE;
        if (queued[v]) {
            return;
        }
        // No credit for time without work: a vGPU that owes keeps owing, one that was owed starts even.
        if (start[v] - vnow < 0) {
            start[v] = vnow;
        }
        enqueue(v);
        rebuild();
    }

    @Override
    public void drained(int v) {
        pickedV = NONE;
        if (queued[v]) {
            unqueue(v);
            rebuild();
        }
    }

    @Override
    public int pick() {
        // Eligible buckets (S <= V) rank by virtual deadline; when none is (rounding can leave nobody exactly
        // eligible), the one closest to eligibility runs.
        if (treeMode) {
            long k = eTree[1];
            if (k == EMPTY) {
                k = wTree[1];
                if (k == EMPTY) {
                    return NONE;
                }
            }
            return picked((int) (k & IDX_MASK));
        }
        final int n = activeCount;
        if (n == 0) {
            return NONE;
        }
        // A bucket is eligible when its start key is at most V's (with every index bit set); it then ranks by its
        // deadline key minus INELIGIBLE, else by its start key: every eligible bucket before every other, eligible ones
        // by deadline, the others by start, as the trees order them. Keys are relative to the epoch, so plain compares.
        // The mask is all ones exactly when eligible: arithmetic, not a select, which C2 may compile to a branch that
        // mispredicts on every other bucket.
        final long[] ss = scanS, rq = scanReq;
        final long above = ((vnow << IDX_BITS) | IDX_MASK) - epoch + 1;
        // Four running minimums: with one, the minimums form a chain as long as the buckets; with four, a quarter as
        // long. Written out, the loop also stays scalar: at these lengths C2's vector loop spends more in its scalar
        // pre- and post-loops and its final reduction than it saves.
        long b0 = Long.MAX_VALUE, b1 = Long.MAX_VALUE, b2 = Long.MAX_VALUE, b3 = Long.MAX_VALUE;
        int a = 0;
        for (; a <= n - 4; a += 4) {
            b0 = Math.min(b0, rank(ss[a], rq[a], above));
            b1 = Math.min(b1, rank(ss[a + 1], rq[a + 1], above));
            b2 = Math.min(b2, rank(ss[a + 2], rq[a + 2], above));
            b3 = Math.min(b3, rank(ss[a + 3], rq[a + 3], above));
        }
        for (; a < n; a++) {
            b0 = Math.min(b0, rank(ss[a], rq[a], above));
        }
        return picked((int) (Math.min(Math.min(b0, b1), Math.min(b2, b3)) & IDX_MASK));
    }

    /** A bucket's scan rank from its scanS and scanReq entries; {@code above} is the least scanS that is not eligible. */
    private static long rank(long s, long req, long above) {
        return s + (req & ((s - above) >> 63));
    }

    private int picked(int g) {
        int v = head[g];
        pickedG = g;
        pickedV = v;
        return v;
    }

    @Override
    public long grant(int v) {
        if (v < 0) {
            return baseSlice;
        }
        // Debt carried across slices: a turn is worth one request; what an overrun took beyond it comes off the next
        // turns, so every turn advances S by one request on average and the buckets' FIFO order stays S order.
        return Math.max(0, requestNs[v == pickedV ? pickedG : groupOf[v]] + credit[v]);
    }

    @Override
    public void charge(int v, long ranNanos) {
        if (v != pickedV) {
            chargeAny(v, ranNanos);
            return;
        }
        // The turn pick() chose: v is queued and heads bucket pickedG, so it only has to move to the circle's back.
        pickedV = NONE;
        final int g = pickedG;
        final long[] st = start;
        credit[v] = Math.min(0, credit[v] + requestNs[g] - ranNanos);
        long vt = vnow;
        long sv = st[v];
        if (ranNanos > 0) {
            long ran = Math.min(ranNanos, MAX_CHARGE);
            vt += (ran * recipSum) >>> VT_SHIFT;
            vnow = vt;
            sv += (ran * recipOf[g]) >>> VT_SHIFT;
            st[v] = sv;
        }
        int h = gnext[v];
        head[g] = h;
        // A one-member bucket's new head is v itself: use the start just computed, not a load of the store.
        long key = ((h == v ? sv : st[h]) << IDX_BITS) | g;
        if (treeMode) {
            place(g, key, vt);
        } else {
            scanPlace(g, key, vt);
        }
    }

    /** {@link #charge} of a vGPU pick() did not just choose (a reservation's turn, or after a change). */
    private void chargeAny(int v, long ranNanos) {
        final int g = groupOf[v];
        final long[] st = start;
        credit[v] = Math.min(0, credit[v] + requestNs[g] - ranNanos);
        long vt = vnow;
        long sv = st[v];
        if (ranNanos > 0 && sumWeight > 0) {
            long ran = Math.min(ranNanos, MAX_CHARGE);
            vt += (ran * recipSum) >>> VT_SHIFT;
            vnow = vt;
            sv += (ran * recipOf[g]) >>> VT_SHIFT;
            st[v] = sv;
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
            // A one-member bucket's new head is v itself: use the start just computed, not a load of the store.
            long key = ((h == v ? sv : st[h]) << IDX_BITS) | g;
            if (treeMode) {
                place(g, key, vt);
            } else {
                scanPlace(g, key, vt);
            }
        } else {
            promote(vt);
        }
    }

    /**
     * Bucket {@code g}'s head or its start changed to {@code key} ({@code (S << IDX_BITS) | g}) and V advanced to
     * {@code vt}: the bucket becomes a live leaf of the eligible tree (keyed by deadline) or of the waiting one (keyed by
     * start), and the waiting buckets V reached become eligible.
     */
    private void place(int g, long key, long vt) {
        final long limit = ((vt << IDX_BITS) | IDX_MASK) - epoch;
        if (limit > REBASE) {
            rebuild(); // relative keys stay far from overflow; the rebuild places and promotes as well
            return;
        }
        final int leaf = leaves + activePos[g];
        final long rel = key - epoch;
        if (rel <= limit) {
            set(eTree, leaf, rel + requestKey[g]);
            if (wTree[leaf] != EMPTY) {
                set(wTree, leaf, EMPTY);
            }
        } else {
            set(wTree, leaf, rel);
            if (eTree[leaf] != EMPTY) {
                set(eTree, leaf, EMPTY);
            }
        }
        promoteTo(limit);
    }

    /** Bucket {@code g}'s head or its start changed to {@code key}, and V advanced to {@code vt}: its scan entry follows. */
    private void scanPlace(int g, long key, long vt) {
        if ((vt << IDX_BITS) - epoch > REBASE) {
            rebuild(); // relative keys stay far from overflow
            return;
        }
        scanS[activePos[g]] = key - epoch;
    }

    /** V advanced to {@code vt} with no bucket's keys changed: the waiting buckets it reached become eligible. */
    private void promote(long vt) {
        final long limit = ((vt << IDX_BITS) | IDX_MASK) - epoch;
        if (limit > REBASE) {
            rebuild();
        } else if (treeMode) {
            promoteTo(limit); // the scan judges eligibility when it picks
        }
    }

    /** The waiting buckets whose start key is at most {@code limit} (relative) become eligible, smallest first. */
    private void promoteTo(long limit) {
        long k;
        while ((k = wTree[1]) <= limit) {
            int g = (int) (k & IDX_MASK);
            int leaf = leaves + activePos[g];
            set(wTree, leaf, EMPTY);
            set(eTree, leaf, k + requestKey[g]);
        }
    }

    /**
     * Sets leaf node {@code i} of {@code tree} to {@code key} and replays its path to the root. The siblings' keys do not
     * depend on each other, so their loads overlap; each level adds one minimum and one store, and no branch but the
     * loop's, whose count is the same every time.
     */
    private static void set(long[] tree, int i, long key) {
        long m = key;
        tree[i] = m;
        for (; i > 1; i >>>= 1) {
            m = Math.min(m, tree[i ^ 1]);
            tree[i >>> 1] = m;
        }
    }

    /**
     * Recomputes every bucket's keys and rebuilds both trees around a new epoch (or chooses scanning, with few buckets)
     * from the buckets with work: after V moved either way (a vGPU gaining or losing work shifts V by its lag), after the
     * set of buckets with work or a head changed outside a turn, after the requests changed, and when V has moved far
     * from the epoch. O(buckets with work), off the per-decision path.
     */
    private void rebuild() {
        final long base = vnow << IDX_BITS;
        final int n = activeCount;
        treeMode = n > scanMaxBuckets || queuedCount >= (long) treeMinMembers * n;
        epoch = base;
        int l = 1;
        while (l < n) {
            l <<= 1;
        }
        leaves = l;
        for (int a = 0; a < n; a++) {
            int g = activeGroup[a];
            long key = (start[head[g]] << IDX_BITS) | g;
            long rel = key - base;
            scanS[a] = rel;
            scanReq[a] = requestKey[g] - INELIGIBLE;
            boolean eligible = rel <= IDX_MASK;
            eTree[l + a] = eligible ? rel + requestKey[g] : EMPTY;
            wTree[l + a] = eligible ? EMPTY : rel;
        }
        for (int a = n; a < l; a++) {
            eTree[l + a] = EMPTY;
            wTree[l + a] = EMPTY;
        }
        for (int i = l - 1; i > 0; i--) {
            eTree[i] = Math.min(eTree[2 * i], eTree[2 * i + 1]);
            wTree[i] = Math.min(wTree[2 * i], wTree[2 * i + 1]);
        }
    }

    private void enqueue(int v) {
        queued[v] = true;
        queuedCount++;
        long w = weightOf(groupOf[v]);
        sumWeight += w;
        recipSum = ONE / sumWeight;
        // The converse of unqueue's adjustment: joining with lag l moves V by -l / (new total weight).
        vnow -= (vnow - start[v]) * w / sumWeight;
        appendToGroup(v, groupOf[v]);
    }

    private void unqueue(int v) {
        queued[v] = false;
        queuedCount--;
        long w = weightOf(groupOf[v]);
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
