package io.isthmus.sched.run;

import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.SimulatedEngine;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.vgpu.VgpuHost;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;

/**
 * Host tenants sharing one engine through the whole vGPU path: a {@link VgpuHost} over the engine, one backlogged
 * {@link Tenant} per vGPU configuration, a setup (buffers allocated, inputs copied in) that is not measured, then a
 * measured period of {@code duration} on the engine's clock. On a real engine the scheduler and each tenant have their
 * own threads and the period is wall time (after a {@link #WARMUP_NANOS} warm-up with every tenant backlogged); on the simulated engine everything runs on the caller's thread in virtual
 * time.
 *
 * <p>Lifetime: one {@link #run}. Thread-safety: one caller; the live callback runs on the caller's thread.
 */
public final class TenantRun {
    /** How long tenants run before the measured period starts, ns of the engine's clock. */
    public static final long WARMUP_NANOS = 500_000_000L;

    private final DeviceEngine engine;
    private final SchedulerConfig config;
    private final List<VGpuConfig> vgpus;
    private final long memory;
    private final List<List<Launch>> mixes;
    private final int depth;
    private final long windowNanos;

    /** What a run produced. */
    public record Result(List<TenantResult> tenants, long measuredNanos, SchedMetrics metrics, long contextSwitches,
                         long switchNanos, long idleNanos, long totalLaunches, List<Tenant> detail) {
        /** @return the sum of every tenant's engine time, ns */
        public long engineNanos() {
            return tenants.stream().mapToLong(TenantResult::engineNanos).sum();
        }
    }

    /**
     * @param memory      each tenant's device memory quota, bytes
     * @param depth       launches each tenant keeps in flight
     * @param windowNanos the window for shares over time
     */
    public TenantRun(DeviceEngine engine, SchedulerConfig config, List<VGpuConfig> vgpus, long memory, List<Launch> mix,
                     int depth, long windowNanos) {
        this(engine, config, vgpus, memory, java.util.Collections.nCopies(vgpus.size(), mix), depth, windowNanos, true);
    }

    /**
     * As above, with each tenant's own launches ({@code mixes.get(i)} for tenant i).
     *
     * @param perTenant marks this form (the two differ only in their lists' element types)
     */
    public TenantRun(DeviceEngine engine, SchedulerConfig config, List<VGpuConfig> vgpus, long memory,
                     List<List<Launch>> mixes, int depth, long windowNanos, boolean perTenant) {
        this.engine = engine;
        this.config = config;
        this.vgpus = List.copyOf(vgpus);
        this.memory = memory;
        this.mixes = List.copyOf(mixes);
        this.depth = depth;
        this.windowNanos = windowNanos;
    }

    /**
     * Runs: setup, then {@code durationNanos} measured.
     *
     * @param live called about every {@code liveEveryNanos} of wall time with the tenants (their live counters), or null
     */
    public Result run(long durationNanos, Consumer<List<Tenant>> live, long liveEveryNanos) throws InterruptedException {
        boolean threaded = !(engine instanceof SimulatedEngine);
        SchedMetrics metrics = new SchedMetrics(config.maxVGpus(), windowNanos, Long.MAX_VALUE / 4);
        List<Tenant> tenants = new ArrayList<>();
        try (VgpuHost host = new VgpuHost(config, engine)) {
            host.addListener(metrics);
            if (threaded) {
                host.start();
            }
            try {
                for (int i = 0; i < vgpus.size(); i++) {
                    tenants.add(new Tenant(i, host, vgpus.get(i), memory, mixes.get(i), depth, threaded));
                }
                for (int phase = 0; phase < 2; phase++) {
                    for (Tenant t : tenants) {
                        t.submitSetup(phase);
                    }
                    while (!tenants.stream().allMatch(Tenant::setupDone)) {
                        if (threaded) {
                            Thread.sleep(1);
                        } else {
                            host.runUntil(engine.now() + 1_000_000);
                        }
                    }
                    for (Tenant t : tenants) {
                        t.finishSetup(phase);
                    }
                }
                // Every tenant's queue is filled before the measured period starts, and the period starts a warm-up
                // later: a tenant that started first has the engine alone for a moment, and the JIT compiles the path.
                for (Tenant t : tenants) {
                    t.begin(Long.MAX_VALUE, Long.MAX_VALUE);
                }
                long t0 = engine.now() + WARMUP_NANOS, end = t0 + durationNanos;
                for (Tenant t : tenants) {
                    t.measure(t0, end);
                }
                host.runOnSchedulerThread(() -> metrics.startWindowsAt(t0));
                if (!threaded) {
                    host.runUntil(t0);
                }
                if (threaded) {
                    long nextLive = System.nanoTime() + liveEveryNanos;
                    while (engine.now() < end) {
                        long sleep = Math.min(end - engine.now(), nextLive - System.nanoTime());
                        if (sleep > 0) {
                            Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
                        }
                        if (live != null && System.nanoTime() >= nextLive) {
                            live.accept(tenants);
                            nextLive += liveEveryNanos;
                        }
                    }
                } else {
                    long step = Math.max(1, durationNanos / 100);
                    long nextLive = System.nanoTime() + liveEveryNanos;
                    for (long t = t0; t < end; ) {
                        t = Math.min(end, t + step);
                        host.runUntil(t);
                        if (live != null && System.nanoTime() >= nextLive) {
                            live.accept(tenants);
                            nextLive = System.nanoTime() + liveEveryNanos;
                        }
                    }
                }
                for (Tenant t : tenants) {
                    t.stop();
                }
                for (Tenant t : tenants) {
                    t.join(10_000);
                }
                host.runOnSchedulerThread(() -> metrics.finish(end));
                return result(tenants, durationNanos, metrics, host);
            } finally {
                for (Tenant t : tenants) {
                    t.close();
                }
            }
        }
    }

    private Result result(List<Tenant> tenants, long duration, SchedMetrics metrics, VgpuHost host) {
        double[] target = Targets.of(config, vgpus);
        long total = 0, launches = 0;
        for (Tenant t : tenants) {
            total += t.engineNanos();
            launches += t.launches();
        }
        List<TenantResult> out = new ArrayList<>();
        for (Tenant t : tenants) {
            VGpuConfig c = vgpus.get(t.index());
            Histogram h = t.latency();
            long n = Math.max(1, t.launches());
            out.add(new TenantResult(t.index(), c.weight(), c.cap(), target[t.index()],
                    total == 0 ? 0 : (double) t.engineNanos() / total, t.engineNanos(), t.gpuNanos(), t.launches(),
                    h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(50),
                    h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(99),
                    (double) t.queueNanos() / n, (double) (t.serviceNanos() - t.gpuNanos()) / n,
                    (double) t.deliverNanos() / n, t.errors(), t.firstError()));
        }
        long[] sched = new long[3];
        host.runOnSchedulerThread(() -> {
            sched[0] = host.scheduler().contextSwitches();
            sched[1] = host.scheduler().switchNanos();
            sched[2] = metrics.idleNanos();
        });
        return new Result(out, duration, metrics, sched[0], sched[1], sched[2], launches, tenants);
    }
}
