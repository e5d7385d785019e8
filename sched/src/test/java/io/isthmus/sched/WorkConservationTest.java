package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.Durations;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.policy.RoundRobinPolicy;
import io.isthmus.sched.sim.Simulation;
import io.isthmus.sched.sim.VGpuSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;

/** Best effort never idles while work waits; equal and fixed share never give an idle vGPU's time to others. */
class WorkConservationTest {
    @Provide
    Arbitrary<Durations> items() {
        return Workloads.durations(20, 500);
    }

    @Property(tries = 15)
    void bestEffortNeverIdlesWhileWorkWaits(@ForAll @IntRange(min = 1, max = 8) int n,
            @ForAll @DoubleRange(min = 0.02, max = 0.4) double load, @ForAll("items") Durations items,
            @ForAll long seed) {
        Simulation sim = new Simulation(SchedulerConfig.of(Policy.BEST_EFFORT, n), 20_000, seed, 100_000_000);
        for (int i = 0; i < n; i++) {
            sim.add(VGpuSpec.open(VGpuConfig.DEFAULT, items, load));
        }
        List<long[]> idle = new ArrayList<>();
        List<long[]> waits = new ArrayList<>();
        sim.listen(new SchedListener() {
            @Override
            public void idle(long start, long end, int reason, int v) {
                idle.add(new long[] {start, end});
            }
        });
        sim.observe((spec, item) -> waits.add(new long[] {item.submittedNanos(), item.startedNanos()}));
        sim.run(2_000_000_000L, null);
        assertTrue(waits.size() > 10, "items run: " + waits.size());
        long[] starts = idle.stream().mapToLong(x -> x[0]).toArray(); // in order: the clock only moves forward
        for (long[] w : waits) {
            // The last idle interval starting before the item started must have ended by the time it was submitted.
            int k = Arrays.binarySearch(starts, w[1]);
            int i = k >= 0 ? k - 1 : -k - 2;
            while (i >= 0 && idle.get(i)[0] >= w[1]) {
                i--;
            }
            if (i >= 0) {
                long[] iv = idle.get(i);
                assertTrue(iv[1] <= w[0], String.format("engine idle %d..%d while an item submitted at %d waited"
                        + " until %d", iv[0], iv[1], w[0], w[1]));
            }
        }
    }

    @Provide
    Arbitrary<Policy> nonConserving() {
        return Arbitraries.of(Policy.EQUAL_SHARE, Policy.FIXED_SHARE);
    }

    @Property(tries = 15)
    void equalAndFixedShareNeverGiveAnIdleVGpusTimeToOthers(@ForAll("nonConserving") Policy policy,
            @ForAll @IntRange(min = 2, max = 8) int n, @ForAll @IntRange(min = 1, max = 7) int idleCount,
            @ForAll("items") Durations items, @ForAll long seed) {
        int k = Math.min(idleCount, n - 1);
        int max = policy == Policy.FIXED_SHARE ? n + 2 : n;
        SchedulerConfig config = SchedulerConfig.of(policy, max);
        Simulation sim = new Simulation(config, 20_000, seed, 100_000_000);
        for (int i = 0; i < n; i++) {
            sim.add(i < n - k ? VGpuSpec.backlogged(VGpuConfig.DEFAULT, items) : VGpuSpec.idle(VGpuConfig.DEFAULT));
        }
        long t = 3_000_000_000L;
        SchedMetrics m = sim.run(t, null);
        double entitled = 1.0 / (policy == Policy.FIXED_SHARE ? max : n);
        RoundRobinPolicy rr = (RoundRobinPolicy) sim.scheduler().policy();
        for (int i = 0; i < n; i++) {
            // An item that overruns its slice borrows from the next turn, and the borrowing is repaid over the next
            // averaging-factor slices; what is still owed at the end does not count as the vGPU's own time.
            double share = (double) (m.serviceNanos(sim.vgpuId(i)) - rr.debt(sim.vgpuId(i))) / t;
            if (i < n - k) {
                assertTrue(share <= entitled + 0.01, String.format("vGPU %d got %.4f, more than its 1/%d = %.4f (%s)",
                        i, share, Math.round(1 / entitled), entitled, policy));
                assertTrue(share >= entitled * 0.9 - 0.01, String.format("vGPU %d got only %.4f of %.4f", i, share,
                        entitled));
            } else {
                assertEquals(0, m.serviceNanos(sim.vgpuId(i)));
            }
        }
        // The idle vGPUs' (and empty slots') turns stay idle. Context switches are not charged to anyone's slice, so
        // they stretch the busy vGPUs' turns and shrink the idle fraction by their own share.
        double idleShare = (double) m.idleNanos() / t;
        double switching = (double) m.switchNanos() / t;
        // Overruns not yet repaid at the end (at most averaging factor x one item per vGPU) are borrowed idle time.
        double owed = 0;
        for (int i = 0; i < n - k; i++) {
            owed += (double) rr.debt(sim.vgpuId(i)) / t;
        }
        double unused = 1.0 - (n - k) * entitled;
        assertTrue(idleShare >= unused - switching - owed - 0.01, String.format("engine idle %.4f (switching %.4f) but %.4f"
                + " of the time belongs to idle vGPUs or empty slots", idleShare, switching, unused));
    }
}
