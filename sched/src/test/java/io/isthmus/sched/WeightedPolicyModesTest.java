package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.isthmus.sched.policy.WeightedFairPolicy;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The weighted policy scans its buckets when few have work and keeps two tournament trees when many do (or when they
 * hold several vGPUs each). The other properties run with at most eight vGPUs, so mostly through the scan; this one
 * drives a scanning and a tree-keeping policy through the same random turns, joins, leaves, reweights and drains, with
 * up to 32 buckets, and requires the same decision and grant every turn, so the tree way inherits every guarantee shown
 * for the scan.
 */
class WeightedPolicyModesTest {
    @Property(tries = 40)
    void heapsPickExactlyWhatTheScanPicks(@ForAll long seed, @ForAll @IntRange(min = 2, max = 64) int vgpus) {
        SchedulerConfig config = SchedulerConfig.of(Policy.WEIGHTED, vgpus);
        WeightedFairPolicy scan = new WeightedFairPolicy(config, Integer.MAX_VALUE);
        WeightedFairPolicy heap = new WeightedFairPolicy(config, 0); // trees always
        SplittableRandom r = new SplittableRandom(seed);
        boolean[] joined = new boolean[vgpus];
        boolean[] queued = new boolean[vgpus];
        for (int v = 0; v < vgpus; v++) {
            if (r.nextInt(4) != 0) {
                int w = 1 + r.nextInt(16);
                LatencyClass c = r.nextInt(4) == 0 ? LatencyClass.INTERACTIVE : LatencyClass.NORMAL;
                scan.join(v, w, c);
                heap.join(v, w, c);
                joined[v] = true;
                if (r.nextBoolean()) {
                    scan.backlogged(v);
                    heap.backlogged(v);
                    queued[v] = true;
                }
            }
        }
        for (int turn = 0; turn < 5_000; turn++) {
            int v = r.nextInt(vgpus);
            switch (r.nextInt(40)) {
                case 0 -> {
                    if (joined[v]) {
                        scan.leave(v);
                        heap.leave(v);
                        joined[v] = queued[v] = false;
                    } else {
                        int w = 1 + r.nextInt(16);
                        scan.join(v, w, LatencyClass.NORMAL);
                        heap.join(v, w, LatencyClass.NORMAL);
                        joined[v] = true;
                    }
                }
                case 1 -> {
                    if (joined[v]) {
                        int w = 1 + r.nextInt(16);
                        scan.reweight(v, w);
                        heap.reweight(v, w);
                    }
                }
                case 2, 3 -> {
                    if (joined[v] && !queued[v]) {
                        scan.backlogged(v);
                        heap.backlogged(v);
                        queued[v] = true;
                    } else if (queued[v]) {
                        scan.drained(v);
                        heap.drained(v);
                        queued[v] = false;
                    }
                }
                default -> {
                    int p = scan.pick();
                    assertEquals(p, heap.pick(), "pick at turn " + turn);
                    if (p >= 0) {
                        long g = scan.grant(p);
                        assertEquals(g, heap.grant(p), "grant at turn " + turn);
                        // Mostly the grant plus an overrun; sometimes short (ran out of work), sometimes nothing.
                        long ran = switch (r.nextInt(8)) {
                            case 0 -> 0;
                            case 1 -> r.nextLong(g + 1);
                            default -> g + r.nextLong(200_000);
                        };
                        scan.charge(p, ran);
                        heap.charge(p, ran);
                        assertEquals(scan.lagNanos(p), heap.lagNanos(p));
                    }
                }
            }
        }
    }
}
