package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.Durations;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.sim.Simulation;
import io.isthmus.sched.sim.VGpuSpec;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Equal weights: Jain's index over every 100 ms window, under each policy that shares among backlogged vGPUs. */
class FairnessTest {
    @Provide
    Arbitrary<Durations> items() {
        // Typical kernel lengths; the heavy tail is cut at 50 means (1.5 ms).
        return Workloads.durations(10, 30);
    }

    @Provide
    Arbitrary<Policy> policies() {
        return Arbitraries.of(Policy.WEIGHTED, Policy.BEST_EFFORT, Policy.EQUAL_SHARE);
    }

    /**
     * Under the round-robin policies an overrun is repaid over averaging-factor slices; with NVIDIA's default of 33 that
     * is about 0.7 s at 2 ms slices, so with heavy-tailed items a 100 ms window can hold up to 33 slices' worth of
     * unrepaid overrun and Jain's index then dips to about 0.99 (seen: 0.9900 with 4 vGPUs, Pareto 1.3 items). The
     * weighted policy repays on the very next turn. So the round-robin policies are held to 0.99 with factors up to 8.
     *
     * <p>Slices are 1 ms (960 Hz, NVIDIA's frequency above 8 vGPUs): at 480 Hz (2.08 ms) a 100 ms window holds only
     * 48 slices, so with 7 vGPUs some get 7 turns and some 6 in a window, and with overruns on top Jain's index was
     * seen at 0.9899 (best effort, Pareto 1.3 items of 22 µs mean) - the granularity of the slice, not unfairness.
     */
    @Property(tries = 15)
    void jainIndexIsAtLeast099InEvery100msWindowForEqualWeights(@ForAll("policies") Policy policy,
            @ForAll @IntRange(min = 2, max = 8) int n, @ForAll("items") Durations items,
            @ForAll @IntRange(min = 1, max = 8) int factor, @ForAll long seed) {
        SchedulerConfig config = SchedulerConfig.of(policy, n).withFrequency(960).withAveragingFactor(factor);
        Simulation sim = new Simulation(config, 20_000, seed, 100_000_000);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            sim.add(VGpuSpec.backlogged(VGpuConfig.DEFAULT, items));
        }
        SchedMetrics m = sim.run(3_000_000_000L, null);
        for (int i = 0; i < n; i++) {
            ids[i] = sim.vgpuId(i);
        }
        assertTrue(m.windowCount() >= 30, "windows: " + m.windowCount());
        for (int w = 0; w < m.windowCount(); w++) {
            double j = m.windowJain(w, ids);
            assertTrue(j >= 0.99, String.format("window %d: Jain %.4f < 0.99 (%s, %d vGPUs, items %s)", w, j,
                    policy, n, items));
        }
    }
}
