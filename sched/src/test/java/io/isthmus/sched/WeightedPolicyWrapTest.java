package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.policy.WeightedFairPolicy;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Virtual time is a long that wraps, and the scan and the trees hold keys relative to an epoch that is renewed as V
 * moves. Overruns of up to two seconds a turn move V past many epochs and wrap the keys within a few thousand turns;
 * through all of it the two ways must still agree. With one vGPU per bucket (each its own weight and class), the vGPU
 * picked must also be eligible (lag at least 0) whenever any is; with several per bucket only the bucket's head is
 * compared, and a member behind an overrunning head waits for the head's turn.
 */
class WeightedPolicyWrapTest {
    @Property(tries = 20)
    void scanAndTreesAgreeAcrossEpochsAndWraps(@ForAll long seed, @ForAll @IntRange(min = 2, max = 48) int vgpus,
            @ForAll boolean bucketEach) {
        SchedulerConfig config = SchedulerConfig.of(Policy.WEIGHTED, vgpus);
        WeightedFairPolicy scan = new WeightedFairPolicy(config, Integer.MAX_VALUE);
        WeightedFairPolicy trees = new WeightedFairPolicy(config, 0);
        SplittableRandom r = new SplittableRandom(seed);
        for (int v = 0; v < vgpus; v++) {
            // Light weights move V fastest: weight 1 alone moves it 2^47 units per 2.1 s charge.
            int w = bucketEach ? 1 + v / 2 : 1 + r.nextInt(r.nextBoolean() ? 2 : 16);
            LatencyClass c = (bucketEach ? v % 2 == 1 : r.nextInt(4) == 0) ? LatencyClass.INTERACTIVE
                    : LatencyClass.NORMAL;
            scan.join(v, w, c);
            trees.join(v, w, c);
            scan.backlogged(v);
            trees.backlogged(v);
        }
        for (int turn = 0; turn < 3_000; turn++) {
            int p = scan.pick();
            assertEquals(p, trees.pick(), "pick at turn " + turn);
            boolean anyEligible = false;
            for (int v = 0; v < vgpus; v++) {
                anyEligible |= scan.lagNanos(v) >= 0;
            }
            assertTrue(!bucketEach || !anyEligible || scan.lagNanos(p) >= 0, "picked an ineligible vGPU at turn " + turn);
            long g = scan.grant(p);
            assertEquals(g, trees.grant(p), "grant at turn " + turn);
            long ran = g + (r.nextInt(3) == 0 ? r.nextLong(2_000_000_000L) : r.nextLong(200_000));
            scan.charge(p, ran);
            trees.charge(p, ran);
            assertEquals(scan.lagNanos(p), trees.lagNanos(p));
        }
    }
}
