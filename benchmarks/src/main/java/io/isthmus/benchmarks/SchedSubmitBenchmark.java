package io.isthmus.benchmarks;

import io.isthmus.sched.Completion;
import io.isthmus.sched.GpuScheduler;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpu;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.WorkItem;
import io.isthmus.sched.engine.SimulatedEngine;
import io.isthmus.sched.policy.Policies;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Submission throughput: producer threads (one per vGPU, as one vCPU or device thread each) submit work items through
 * {@link VGpu#submit} (a JCTools MPSC queue plus the doorbell counter) while the scheduler's thread makes decisions and
 * runs them on a zero-cost simulated engine. Groups {@code p1} and {@code p2} have one and two producers. The
 * {@code submitted}/{@code refused} and {@code ran} counters are rates (refused: the 1,024-item queue was full, so
 * the producer was faster than the consumer; it then yields). {@code submitted} is the end-to-end item rate.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "-XX:+UseParallelGC")
public class SchedSubmitBenchmark {
    /** The scheduler and its vGPUs, shared by a group. */
    @State(Scope.Group)
    public static class Engine {
        GpuScheduler scheduler;
        VGpu[] vgpus;
        final AtomicInteger nextProducer = new AtomicInteger();

        @Setup(Level.Trial)
        public void setup() {
            SchedulerConfig config = SchedulerConfig.of(Policy.BEST_EFFORT, 2);
            scheduler = new GpuScheduler(config, new SimulatedEngine(0), Policies.create(config), 1024);
            vgpus = new VGpu[] {scheduler.join(VGpuConfig.DEFAULT, Completion.NONE),
                scheduler.join(VGpuConfig.DEFAULT, Completion.NONE)};
        }
    }

    /** One producer's vGPU and items. */
    @State(Scope.Thread)
    public static class Producer {
        VGpu vgpu;
        final WorkItem[] items = new WorkItem[4096];
        int next;

        @Setup(Level.Trial)
        public void setup(Engine e) {
            vgpu = e.vgpus[e.nextProducer.getAndIncrement() % e.vgpus.length];
            for (int i = 0; i < items.length; i++) {
                items[i] = new WorkItem(1);
            }
        }
    }

    /** Producer outcomes, as rates. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Submissions {
        public long submitted, refused;
    }

    /** Consumer outcomes, as rates. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Decisions {
        public long ran;
    }

    @Benchmark
    @Group("p1")
    @GroupThreads(1)
    public void submit1(Producer p, Submissions c) {
        submit(p, c);
    }

    @Benchmark
    @Group("p1")
    @GroupThreads(1)
    public void schedule1(Engine e, Decisions d) {
        schedule(e, d);
    }

    @Benchmark
    @Group("p2")
    @GroupThreads(2)
    public void submit2(Producer p, Submissions c) {
        submit(p, c);
    }

    @Benchmark
    @Group("p2")
    @GroupThreads(1)
    public void schedule2(Engine e, Decisions d) {
        schedule(e, d);
    }

    private static void submit(Producer p, Submissions c) {
        // Items are never waited for: the same object may sit in the queue more than once, which the queue allows
        // and the simulated engine does not mind. 0 L: no clock read from the producer's thread.
        if (p.vgpu.submit(p.items[p.next++ & 4095], 0L)) {
            c.submitted++;
        } else {
            c.refused++;
            Thread.yield(); // full: let the scheduler's thread run (this machine may have fewer cores than threads)
        }
    }

    private static void schedule(Engine e, Decisions d) {
        long before = e.scheduler.busyNanos();
        e.scheduler.step(Long.MAX_VALUE);
        long ran = e.scheduler.busyNanos() - before; // items of 1 ns each: engine ns = items run
        d.ran += ran;
        if (ran == 0) {
            Thread.yield(); // idle: a real engine would block on the doorbell; give the producers the CPU
        }
    }

    /** One thread, no contention: the cost of submitting one item and having the scheduler take and run it. */
    @State(Scope.Thread)
    public static class Alone {
        GpuScheduler scheduler;
        VGpu vgpu;
        final WorkItem item = new WorkItem(1);

        @Setup(Level.Trial)
        public void setup() {
            SchedulerConfig config = SchedulerConfig.of(Policy.BEST_EFFORT, 2);
            scheduler = new GpuScheduler(config, new SimulatedEngine(0), Policies.create(config), 1024);
            vgpu = scheduler.join(VGpuConfig.DEFAULT, Completion.NONE);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long submitAndRunOneUncontended(Alone a) {
        a.vgpu.submit(a.item, 0L);
        a.scheduler.step(Long.MAX_VALUE);
        return a.scheduler.busyNanos();
    }
}
