package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.Durations;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.sim.Simulation;
import io.isthmus.sched.sim.VGpuSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordingFile;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** Join, leave and reweight while running; the latency class; JFR events. */
class RuntimeChangeTest {
    @Property(tries = 10)
    void reweightWhileRunningMovesTheShareToTheNewWeight(@ForAll @IntRange(min = 1, max = 16) int before,
            @ForAll @IntRange(min = 1, max = 16) int after, @ForAll long seed) {
        Simulation sim = new Simulation(SchedulerConfig.of(Policy.WEIGHTED, 4), 10_000, seed, 100_000_000);
        Durations items = new Durations.Exponential(50_000);
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(before), items));
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(4), items));
        sim.run(1_000_000_000L, null);
        long a0 = sim.metrics().serviceNanos(sim.vgpuId(0)), b0 = sim.metrics().serviceNanos(sim.vgpuId(1));
        sim.scheduler().reweight(sim.vgpu(0), after);
        sim.scheduler().runUntil(5_000_000_000L);
        double a = sim.metrics().serviceNanos(sim.vgpuId(0)) - a0, b = sim.metrics().serviceNanos(sim.vgpuId(1)) - b0;
        double share = a / (a + b), target = after / (after + 4.0);
        assertTrue(Math.abs(share - target) <= 0.01, "share after reweight " + share + ", target " + target);
    }

    @Example
    void joinAndLeaveWhileRunningRedivideTheEngine() {
        Simulation sim = new Simulation(SchedulerConfig.of(Policy.WEIGHTED, 4), 10_000, 7, 100_000_000);
        Durations items = new Durations.Fixed(40_000);
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(1), items));
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(1), items).joinAt(2_000_000_000L));
        sim.add(VGpuSpec.backlogged(VGpuConfig.weighted(2), items).leaveAt(3_000_000_000L, LeaveMode.RETURN));
        SchedMetrics m = sim.run(4_000_000_000L, null);
        // 0-2 s: vGPUs 0 and 2 (1:2); 2-3 s: all three (1:1:2); 3-4 s: 0 and 1 (1:1).
        double v0 = m.serviceNanos(sim.vgpuId(0)) / 1e9, v1 = m.serviceNanos(sim.vgpuId(1)) / 1e9;
        double v2 = m.serviceNanos(sim.vgpuId(2)) / 1e9;
        assertEquals(2 / 3.0 + 0.25 + 0.5, v0, 0.03);
        assertEquals(0.25 + 0.5, v1, 0.03);
        assertEquals(4 / 3.0 + 0.5, v2, 0.03);
        assertEquals(sim.submitted(), sim.completed() + sim.returned() + queuedAtEnd(sim, 2));
    }

    private static long queuedAtEnd(Simulation sim, int n) {
        long q = 0;
        for (int i = 0; i < n; i++) {
            q += sim.vgpu(i).pending();
        }
        return q;
    }

    @Example
    void interactiveVGpusWaitLessForTheSameShare() {
        Simulation sim = new Simulation(SchedulerConfig.of(Policy.WEIGHTED, 8), 10_000, 3, 100_000_000);
        Durations items = new Durations.Exponential(100_000);
        for (int i = 0; i < 6; i++) {
            sim.add(VGpuSpec.backlogged(VGpuConfig.DEFAULT, items));
        }
        sim.add(VGpuSpec.open(VGpuConfig.DEFAULT.withLatency(LatencyClass.INTERACTIVE), items, 0.05));
        sim.add(VGpuSpec.open(VGpuConfig.DEFAULT, items, 0.05));
        SchedMetrics m = sim.run(5_000_000_000L, null);
        long interactive = m.waitHistogram(sim.vgpuId(6)).getValueAtPercentile(99);
        long normal = m.waitHistogram(sim.vgpuId(7)).getValueAtPercentile(99);
        assertTrue(interactive < normal, "p99 wait: interactive " + interactive + " ns, normal " + normal + " ns");
    }

    @Example
    void slicesAndDecisionsAreRecordedAsJfrEvents() throws Exception {
        Path file = Files.createTempFile("sched", ".jfr");
        try (Recording r = new Recording()) {
            r.enable("io.isthmus.sched.Slice");
            r.enable("io.isthmus.sched.Decision");
            r.start();
            Simulation sim = new Simulation(SchedulerConfig.of(Policy.BEST_EFFORT, 2), 10_000, 1, 100_000_000);
            sim.add(VGpuSpec.backlogged(VGpuConfig.DEFAULT, new Durations.Fixed(500_000)));
            sim.add(VGpuSpec.backlogged(VGpuConfig.DEFAULT, new Durations.Fixed(500_000)));
            sim.run(100_000_000L, null);
            r.stop();
            r.dump(file);
        }
        AtomicLong slices = new AtomicLong(), decisions = new AtomicLong();
        for (var e : RecordingFile.readAllEvents(file)) {
            switch (e.getEventType().getName()) {
                case "io.isthmus.sched.Slice" -> {
                    slices.incrementAndGet();
                    assertTrue(e.getLong("ran") >= e.getLong("granted"));
                }
                case "io.isthmus.sched.Decision" -> decisions.incrementAndGet();
                default -> { }
            }
        }
        Files.delete(file);
        assertTrue(slices.get() >= 40, "slice events: " + slices);
        assertTrue(decisions.get() >= slices.get(), "decision events: " + decisions);
    }
}
