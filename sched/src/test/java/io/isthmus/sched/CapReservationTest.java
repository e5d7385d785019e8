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
import net.jqwik.api.constraints.DoubleRange;

/** A capped vGPU never gets more than its cap; a reserved one never less than its reservation. */
class CapReservationTest {
    @Provide
    Arbitrary<Durations> items() {
        return Workloads.durations(20, 300);
    }

    @Provide
    Arbitrary<Policy> policies() {
        return Arbitraries.of(Policy.values());
    }

    @Provide
    Arbitrary<List<Integer>> weights() {
        return Arbitraries.integers().between(1, 16).list().ofMinSize(3).ofMaxSize(6);
    }

    @Property(tries = 20)
    void capsAndReservationsHold(@ForAll("policies") Policy policy, @ForAll("weights") List<Integer> weights,
            @ForAll @DoubleRange(min = 0.02, max = 0.5) double cap,
            @ForAll @DoubleRange(min = 0.05, max = 0.45) double reservation,
            @ForAll("items") Durations items, @ForAll long seed) {
        int n = weights.size();
        Simulation sim = new Simulation(SchedulerConfig.of(policy, n), 20_000, seed, 100_000_000);
        // vGPU 0 is capped (and heavily weighted, so only the cap holds it back); vGPU 1 is reserved (weight 1, so
        // only the reservation lifts it).
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(16).withCap(cap), items));
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(1).withReservation(reservation), items));
        for (int i = 2; i < n; i++) {
            sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(weights.get(i)), items));
        }
        long t = 5_000_000_000L;
        SchedMetrics m = sim.run(t, null);
        double capped = (double) m.serviceNanos(sim.vgpuId(0)) / t;
        double reserved = (double) m.serviceNanos(sim.vgpuId(1)) / t;
        assertTrue(capped <= cap + 0.01, String.format("capped at %.4f but got %.4f (%s)", cap, capped, policy));
        // Fixed share gives each vGPU 1/max at most, whatever it reserved: a reservation above that is unattainable.
        double attainable = policy == Policy.FIXED_SHARE ? Math.min(reservation, 1.0 / n) : reservation;
        assertTrue(reserved >= attainable - 0.01, String.format("reserved %.4f but got %.4f (%s, weights %s)",
                reservation, reserved, policy, weights));
    }
}
