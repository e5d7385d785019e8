package io.isthmus.sched.sim;

import io.isthmus.sched.GpuScheduler;
import io.isthmus.sched.SchedListener;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpu;
import io.isthmus.sched.WorkItem;
import io.isthmus.sched.WorkStatus;
import io.isthmus.sched.engine.ArrivalSource;
import io.isthmus.sched.engine.SimulatedEngine;
import io.isthmus.sched.metrics.SchedMetrics;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * A deterministic run of a {@link GpuScheduler} on a {@link SimulatedEngine}: vGPUs that are always backlogged, offer
 * Poisson arrivals, or stay idle, joining and leaving at given times. Every vGPU draws from its own random stream split
 * from one seed, so a run replays exactly.
 *
 * <p>Lifetime: one {@link #run}. Thread-safety: none; it runs on the caller's thread.
 */
public final class Simulation implements ArrivalSource {
    /** Sees every item that finishes (completed or returned) before it is reused; for tests. */
    @FunctionalInterface
    public interface ItemObserver {
        /** @param spec the vGPU's index in the simulation */
        void finished(int spec, WorkItem item);
    }

    private final SchedulerConfig config;
    private final SimulatedEngine engine;
    private final GpuScheduler scheduler;
    private final SchedMetrics metrics;
    private final long seed;
    private final List<Source> sources = new ArrayList<>();
    private final PriorityQueue<Source> arrivals = new PriorityQueue<>(
            (a, b) -> a.nextArrival != b.nextArrival ? Long.compare(a.nextArrival, b.nextArrival)
                    : Integer.compare(a.index, b.index));
    private ItemObserver observer = (s, i) -> { };
    private long submitted, completed, returned, rejected;

    /** Per-vGPU workload state. */
    private final class Source {
        final int index;
        final VGpuSpec spec;
        final SplittableRandom random;
        final ArrayDeque<WorkItem> pool = new ArrayDeque<>();
        VGpu vgpu;
        long nextArrival = Long.MAX_VALUE;
        long meanGap;

        Source(int index, VGpuSpec spec, SplittableRandom random) {
            this.index = index;
            this.spec = spec;
            this.random = random;
        }

        boolean backlogged() {
            return spec.load() == VGpuSpec.BACKLOGGED;
        }

        void done(WorkItem item) {
            observer.finished(index, item);
            if (item.status() == WorkStatus.COMPLETED) {
                completed++;
            } else {
                returned++;
            }
            if (backlogged() && !vgpu.isClosed()) {
                submit(item, engine.now());
            } else {
                pool.add(item);
            }
        }

        void submit(WorkItem item, long at) {
            item.durationNanos(spec.durations().next(random));
            if (vgpu.submit(item, at)) {
                submitted++;
            } else {
                rejected++;
                pool.add(item);
            }
        }

        WorkItem item() {
            WorkItem it = pool.poll();
            return it != null ? it : new WorkItem();
        }

        long gap() {
            return Math.max(1, (long) (-Math.log(1.0 - random.nextDouble()) * meanGap));
        }
    }

    /**
     * @param config          the scheduler configuration
     * @param switchCostNanos the simulated context-switch cost
     * @param seed            the random seed
     * @param windowNanos     the metrics window for shares over time
     */
    public Simulation(SchedulerConfig config, long switchCostNanos, long seed, long windowNanos) {
        this.config = config;
        this.engine = new SimulatedEngine(switchCostNanos).arrivals(this);
        this.scheduler = new GpuScheduler(config, engine);
        this.metrics = new SchedMetrics(config.maxVGpus(), windowNanos);
        this.scheduler.addListener(metrics);
        this.seed = seed;
    }

    /** @return the index of the added vGPU */
    public int add(VGpuSpec spec) {
        int i = sources.size();
        sources.add(new Source(i, spec, new SplittableRandom(seed * 0x9E3779B97F4A7C15L + i)));
        return i;
    }

    /** Observes every finished item; @return this */
    public Simulation observe(ItemObserver o) {
        this.observer = o;
        return this;
    }

    /** Adds a scheduler listener (tests); @return this */
    public Simulation listen(SchedListener l) {
        scheduler.addListener(l);
        return this;
    }

    /** @return the scheduler */
    public GpuScheduler scheduler() {
        return scheduler;
    }

    /** @return the metrics */
    public SchedMetrics metrics() {
        return metrics;
    }

    /** @return the vGPU id spec {@code i} has (or had) on the engine, or -1 before it joins */
    public int vgpuId(int i) {
        VGpu g = sources.get(i).vgpu;
        return g == null ? -1 : g.id();
    }

    /** @return the handle of spec {@code i}, or null before it joins */
    public VGpu vgpu(int i) {
        return sources.get(i).vgpu;
    }

    /** @return items submitted (accepted) */
    public long submitted() {
        return submitted;
    }

    /** @return items completed */
    public long completed() {
        return completed;
    }

    /** @return items returned by a leave */
    public long returned() {
        return returned;
    }

    /** @return items refused at submission (queue full or vGPU closed), kept by their owner */
    public long rejected() {
        return rejected;
    }

    /**
     * Runs for {@code durationNanos} of virtual time.
     *
     * @param progress called with the virtual time reached, about every 1 % of the run (may be null)
     * @return the metrics
     */
    public SchedMetrics run(long durationNanos, LongConsumer progress) {
        List<long[]> events = new ArrayList<>(); // {time, source, 0 = join / 1 = leave}
        for (Source s : sources) {
            events.add(new long[] {s.spec.joinAtNanos(), s.index, 0});
            if (s.spec.leaveAtNanos() < durationNanos) {
                events.add(new long[] {s.spec.leaveAtNanos(), s.index, 1});
            }
        }
        events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[2], b[2]));
        long tick = Math.max(1, durationNanos / 100);
        int e = 0;
        long nextTick = tick;
        while (true) {
            long now = engine.now();
            while (e < events.size() && events.get(e)[0] <= now) {
                apply(events.get(e++), now);
            }
            if (now >= durationNanos) {
                break;
            }
            long until = Math.min(durationNanos, Math.min(nextTick, e < events.size() ? events.get(e)[0] : Long.MAX_VALUE));
            scheduler.runUntil(until);
            if (engine.now() >= nextTick) {
                if (progress != null) {
                    progress.accept(Math.min(engine.now(), durationNanos));
                }
                nextTick = (engine.now() / tick + 1) * tick;
            }
        }
        metrics.finish(durationNanos);
        return metrics;
    }

    private void apply(long[] ev, long now) {
        Source s = sources.get((int) ev[1]);
        if (ev[2] == 0) {
            s.vgpu = scheduler.join(s.spec.config(), s::done);
            if (s.backlogged()) {
                s.submit(s.item(), now);
                s.submit(s.item(), now);
            } else if (s.spec.load() > 0) {
                s.meanGap = Math.max(1, (long) (s.spec.durations().meanNanos() / s.spec.load()));
                s.nextArrival = now + s.gap();
                arrivals.add(s);
            }
        } else if (!s.vgpu.isClosed()) {
            if (s.nextArrival != Long.MAX_VALUE) {
                arrivals.remove(s);
                s.nextArrival = Long.MAX_VALUE;
            }
            scheduler.leave(s.vgpu, s.spec.leaveMode());
        }
    }

    @Override
    public long nextArrivalNanos() {
        Source s = arrivals.peek();
        return s == null ? Long.MAX_VALUE : s.nextArrival;
    }

    @Override
    public void deliverUpTo(long now) {
        Source s;
        while ((s = arrivals.peek()) != null && s.nextArrival <= now) {
            arrivals.poll();
            s.submit(s.item(), s.nextArrival);
            s.nextArrival += s.gap();
            arrivals.add(s);
        }
    }
}
