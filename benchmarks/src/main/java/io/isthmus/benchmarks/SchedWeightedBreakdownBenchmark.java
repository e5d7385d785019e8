package io.isthmus.benchmarks;

import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.policy.WeightedFairPolicy;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Where a weighted decision's nanoseconds go, in the same setting as {@link SchedDecisionBenchmark} (every vGPU
 * backlogged, weights 1-16, overruns of 0-100 µs): {@code decide} is the whole turn and {@code pick} the choice alone
 * (nothing is charged, so the state and the answer stay the same; what remains of {@code decide} is grant and charge,
 * the trees' path replays included). {@code mode} pins how the policy finds the next bucket: {@code DEFAULT} as it
 * chooses, {@code SCAN} always the scan, {@code TREES} always the trees. {@code weights} 64 gives up to 64 buckets of
 * one vGPU each (outside GVT-g's 1-16), the case neither way is built for.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-XX:+UseParallelGC")
public class SchedWeightedBreakdownBenchmark {
    @Param({"1", "16", "64", "1024", "16384"})
    int vgpus;

    @Param({"DEFAULT", "SCAN", "TREES"})
    String mode;

    @Param({"16"})
    int weights;

    private WeightedFairPolicy p;
    private final long[] overruns = new long[1024];
    private int i;

    @Setup
    public void setup() {
        SchedulerConfig config = SchedulerConfig.of(Policy.WEIGHTED, vgpus);
        p = switch (mode) {
            case "SCAN" -> new WeightedFairPolicy(config, Integer.MAX_VALUE);
            case "TREES" -> new WeightedFairPolicy(config, 0);
            default -> new WeightedFairPolicy(config);
        };
        for (int v = 0; v < vgpus; v++) {
            p.join(v, 1 + v % weights, LatencyClass.NORMAL);
            p.backlogged(v);
        }
        SplittableRandom r = new SplittableRandom(42);
        for (int k = 0; k < overruns.length; k++) {
            overruns[k] = r.nextLong(100_000);
        }
    }

    @Benchmark
    public int decide() {
        WeightedFairPolicy wp = p;
        int v = wp.pick();
        long g = wp.grant(v);
        wp.charge(v, g + overruns[i++ & 1023]);
        return v;
    }

    @Benchmark
    public int pick() {
        return p.pick();
    }
}
