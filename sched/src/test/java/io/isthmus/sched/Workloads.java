package io.isthmus.sched;

import io.isthmus.sched.engine.Durations;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/** jqwik generators shared by the property tests: item-duration distributions and slices. */
final class Workloads {
    private Workloads() {
    }

    /** Fixed, exponential or heavy-tailed (Pareto) durations with a mean between {@code minUs} and {@code maxUs}. */
    static Arbitrary<Durations> durations(int minUs, int maxUs) {
        Arbitrary<Long> mean = Arbitraries.longs().between(minUs * 1_000L, maxUs * 1_000L);
        Arbitrary<Double> alpha = Arbitraries.doubles().between(1.3, 3.0);
        return Arbitraries.oneOf(
                mean.map(Durations.Fixed::new),
                mean.map(Durations.Exponential::new),
                Combinators.combine(mean, alpha).as(Durations.Pareto::new));
    }

    /** Fixed slices of 1 to 4 ms, or adaptive. */
    static Arbitrary<Long> slices() {
        return Arbitraries.oneOf(Arbitraries.longs().between(1_000_000L, 4_000_000L),
                Arbitraries.just(SchedulerConfig.ADAPTIVE));
    }
}
