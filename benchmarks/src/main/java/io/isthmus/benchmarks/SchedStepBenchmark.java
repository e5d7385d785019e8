package io.isthmus.benchmarks;

import io.isthmus.sched.GpuScheduler;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpu;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.WorkItem;
import io.isthmus.sched.engine.SimulatedEngine;
import io.isthmus.sched.metrics.SchedMetrics;
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
 * One whole scheduler step on the hot path: doorbell drain, decision, context switch, running a slice's items on a
 * simulated engine, charging, completion (which resubmits the item, so every vGPU stays backlogged), metrics (an
 * HdrHistogram record per item) and the JFR event checks (JFR off). Run with {@code -prof gc} to show it allocates
 * nothing per decision or per item. Items are 250 µs, slices 1-2 ms, so a step is a few items.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-XX:+UseParallelGC")
public class SchedStepBenchmark {
    @Param({"8", "1024"})
    int vgpus;

    @Param({"BEST_EFFORT", "EQUAL_SHARE", "WEIGHTED"})
    Policy policy;

    private GpuScheduler scheduler;

    @Setup
    public void setup() {
        SchedulerConfig config = SchedulerConfig.of(policy, vgpus);
        scheduler = new GpuScheduler(config, new SimulatedEngine(5_000));
        // A huge window: the per-window arrays are not what this measures (one array per 100 ms window otherwise).
        scheduler.addListener(new SchedMetrics(vgpus, Long.MAX_VALUE / 4));
        for (int v = 0; v < vgpus; v++) {
            VGpu[] self = new VGpu[1];
            self[0] = scheduler.join(VGpuConfig.weighted(1 + v % 16), item -> self[0].submit(item));
            self[0].submit(new WorkItem(250_000), 0L);
            self[0].submit(new WorkItem(250_000), 0L);
        }
    }

    @Benchmark
    public long step() {
        scheduler.step(Long.MAX_VALUE);
        return scheduler.decisions();
    }
}
