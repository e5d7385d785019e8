package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.Durations;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.sim.Simulation;
import io.isthmus.sched.sim.VGpuSpec;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Weighted proportional share: long-run shares and lag, with every vGPU backlogged. */
class WeightedShareTest {
    private static final long TEN_SECONDS = 10_000_000_000L;

    @Provide
    Arbitrary<List<Integer>> weights() {
        return Arbitraries.integers().between(1, 16).list().ofMinSize(2).ofMaxSize(8);
    }

    @Provide
    Arbitrary<Durations> items() {
        return Workloads.durations(20, 400);
    }

    @Provide
    Arbitrary<Long> slices() {
        return Workloads.slices();
    }

    @Property(tries = 12)
    void everyWeightedShareIsWithinOnePercentOfItsTargetOverTenSeconds(@ForAll("weights") List<Integer> weights,
            @ForAll("items") Durations items, @ForAll("slices") long slice, @ForAll long seed) {
        int n = weights.size();
        SchedulerConfig config = new SchedulerConfig(Policy.WEIGHTED, slice, 0, 33, n);
        Simulation sim = new Simulation(config, 20_000, seed, 100_000_000);
        for (int w : weights) {
            sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(w), items));
        }
        SchedMetrics m = sim.run(TEN_SECONDS, null);
        double total = 0, sumW = 0;
        for (int i = 0; i < n; i++) {
            total += m.serviceNanos(sim.vgpuId(i));
            sumW += weights.get(i);
        }
        // The engine really was busy for (nearly) the whole ten seconds: only context switches are not service.
        assertTrue(total >= 0.9 * TEN_SECONDS, "engine busy only " + total + " ns of " + TEN_SECONDS);
        // A vGPU entitled to at least 100 slices in the run must be within 1 % of its target (relative). One entitled
        // to fewer (weight 1 among heavy weights) cannot be: one slice is already more than 1 % of its time; it is held
        // to the lag bound instead, one slice plus one item.
        long lagBound = config.sliceFor(n) + items.maxNanos();
        for (int i = 0; i < n; i++) {
            double share = m.serviceNanos(sim.vgpuId(i)) / total;
            double target = weights.get(i) / sumW;
            double tolerance = target * total >= 100.0 * lagBound ? 0.01 * target : lagBound / total;
            assertTrue(Math.abs(share - target) <= tolerance, String.format(
                    "vGPU %d (weight %d of %s): share %.5f, target %.5f, off by %.3f %% of target; items %s, slice %d",
                    i, weights.get(i), weights, share, target, 100 * Math.abs(share - target) / target, items, slice));
        }
    }

    @Property(tries = 12)
    void lagNeverExceedsOneSlicePlusOneMaximumItem(@ForAll("weights") List<Integer> weights,
            @ForAll("items") Durations items, @ForAll("slices") long slice, @ForAll long seed) {
        int n = weights.size();
        SchedulerConfig config = new SchedulerConfig(Policy.WEIGHTED, slice, 0, 33, n);
        Simulation sim = new Simulation(config, 20_000, seed, 100_000_000);
        double sumW = 0;
        for (int w : weights) {
            sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(w), items));
            sumW += w;
        }
        long bound = config.sliceFor(n) + items.maxNanos();
        long[] received = new long[n];
        double[] worst = new double[1];
        double sumWeights = sumW;
        sim.listen(new SchedListener() {
            long total;

            @Override
            public void slice(int v, long start, long end, long granted, int count) {
                received[v] += end - start;
                total += end - start;
                // Every vGPU is backlogged throughout, so the fluid ideal gives each w/W of all service so far.
                for (int i = 0; i < n; i++) {
                    double lag = total * weights.get(i) / sumWeights - received[i];
                    worst[0] = Math.max(worst[0], Math.abs(lag));
                }
            }
        });
        sim.run(2_000_000_000L, null);
        assertTrue(worst[0] <= bound, String.format("worst |lag| %.0f ns exceeds slice + max item = %d ns"
                + " (weights %s, items %s)", worst[0], bound, weights, items));
    }
}
