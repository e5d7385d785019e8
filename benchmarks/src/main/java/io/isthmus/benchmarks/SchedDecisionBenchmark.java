package io.isthmus.benchmarks;

import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.policy.LinearScanPolicy;
import io.isthmus.sched.policy.Policies;
import io.isthmus.sched.policy.SchedulingPolicy;
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
 * The cost of one scheduling decision (pick the next vGPU, grant its slice, charge what it used) with every vGPU
 * backlogged, per policy, as the number of vGPUs grows. One op is the whole turn a policy does per slice, not
 * {@code pick()} alone: the weighted policy keeps its bucket heaps in order when it is charged, so its O(log buckets)
 * work is in {@code charge}, and a pick-only op would time a field read. {@code LINEAR_SCAN} is the baseline: weighted stride scheduling
 * that scans every vGPU per decision, as Intel GVT-g's {@code find_busy_vgpu()} does.
 *
 * <p>Weights cycle through 1..16 (GVT-g's range), so the weighted policy has up to 16 buckets, of one vGPU each up to
 * 16 vGPUs and of vgpus/16 above; each charge adds an overrun drawn from 0-100 µs (pre-generated), so the debt paths
 * run too. Targets: at most 25 ns/op at every size from 1 to 16,384, 0 B/op (run with {@code -prof gc}). The sizes are
 * powers of four; {@code -p vgpus=1,2,4,...,16384} gives the sweep in powers of two. Where the weighted policy's time
 * goes: {@link SchedWeightedBreakdownBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-XX:+UseParallelGC")
public class SchedDecisionBenchmark {
    @Param({"1", "4", "16", "64", "256", "1024", "4096", "16384"})
    int vgpus;

    @Param({"BEST_EFFORT", "EQUAL_SHARE", "FIXED_SHARE", "WEIGHTED", "LINEAR_SCAN"})
    String policy;

    private SchedulingPolicy p;
    private final long[] overruns = new long[1024];
    private int i;

    @Setup
    public void setup() {
        boolean baseline = policy.equals("LINEAR_SCAN");
        SchedulerConfig config = SchedulerConfig.of(baseline ? Policy.WEIGHTED : Policy.valueOf(policy), vgpus);
        p = baseline ? new LinearScanPolicy(config) : Policies.create(config);
        for (int v = 0; v < vgpus; v++) {
            p.join(v, 1 + v % 16, LatencyClass.NORMAL);
            p.backlogged(v);
        }
        SplittableRandom r = new SplittableRandom(42);
        for (int k = 0; k < overruns.length; k++) {
            overruns[k] = r.nextLong(100_000);
        }
    }

    @Benchmark
    public int decide() {
        SchedulingPolicy sp = p;
        int v = sp.pick();
        long g = sp.grant(v);
        sp.charge(v, g + overruns[i++ & 1023]);
        return v;
    }
}
