package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.policy.RoundRobinPolicy;
import io.isthmus.sched.policy.SchedulingPolicy;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Adaptive round robin: an injected overrun is repaid by shortening the overrunning vGPU's next slices by
 * overrun / averaging factor, so it is repaid (to within 1 %) in at most averaging-factor slices.
 */
class OverrunRepaymentTest {
    @Provide
    Arbitrary<Policy> roundRobin() {
        return Arbitraries.of(Policy.EQUAL_SHARE, Policy.FIXED_SHARE, Policy.BEST_EFFORT);
    }

    @Property(tries = 200)
    void anInjectedOverrunIsRepaidWithinAveragingFactorSlices(@ForAll("roundRobin") Policy policy,
            @ForAll @IntRange(min = 1, max = 60) int factor, @ForAll @IntRange(min = 1, max = 16) int n,
            @ForAll @IntRange(min = 1, max = 1000) int overrunPermille, @ForAll @IntRange(min = 63, max = 960) int hz) {
        SchedulerConfig config = SchedulerConfig.of(policy, n).withFrequency(hz).withAveragingFactor(factor);
        RoundRobinPolicy p = new RoundRobinPolicy(config);
        for (int v = 0; v < n; v++) {
            p.join(v, 1, LatencyClass.NORMAL);
            p.backlogged(v);
        }
        long base = p.baseSlice();
        // An overrun the averaging can absorb: at most factor slices' worth (a larger one is repaid at one whole slice
        // per turn instead).
        long overrun = Math.max(1, base * factor * overrunPermille / 1000);
        int victim = -1;
        long repaid = 0;
        int victimTurns = 0;
        for (int turn = 0; turn < n * (factor + 2) + 2 * n; turn++) {
            int v = p.pick();
            if (v == SchedulingPolicy.IDLE_SLOT) {
                continue;
            }
            long g = p.grant(v);
            if (victim < 0) {
                victim = v;
                p.charge(v, g + overrun); // the injected overrun: one item ran this far past the slice
                continue;
            }
            if (v == victim) {
                victimTurns++;
                repaid += base - g;
                if (victimTurns == factor) {
                    assertTrue(repaid >= 0.99 * overrun, String.format("after %d slices only %d of %d ns repaid"
                            + " (%s, factor %d, slice %d)", factor, repaid, overrun, policy, factor, base));
                    assertTrue(p.debt(v) <= 0.01 * overrun, "debt left: " + p.debt(v));
                }
            } else {
                assertEquals(base, g, "a vGPU that never overran is granted full slices");
            }
            p.charge(v, g); // items end exactly on the slice boundary from now on
        }
        assertTrue(victimTurns >= factor, "victim ran " + victimTurns + " turns");
        assertEquals(0, p.debt(victim));
    }
}
