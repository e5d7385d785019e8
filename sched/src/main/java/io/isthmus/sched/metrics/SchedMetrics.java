package io.isthmus.sched.metrics;

import io.isthmus.sched.SchedListener;
import io.isthmus.sched.VGpuConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * Collects what a scheduler achieved, per vGPU: engine time received (in total and per fixed window, for shares over
 * time), slices, items, wait latency (submission to start, an HdrHistogram to 3 significant digits), and for the
 * engine: context switches and idle time.
 *
 * <p>Lifetime: one scheduler run. Thread-safety: none; it is a {@link SchedListener}, called on the scheduler's thread.
 * Per-slice recording allocates nothing; a new window allocates one array of per-vGPU totals.
 */
public final class SchedMetrics implements SchedListener {
    private final int capacity;
    private final long windowNanos;
    private final long[] service, charged, slices, items, joinedAt, leftAt;
    private final Histogram[] wait;
    private final VGpuConfig[] configs;
    private final List<long[]> windows = new ArrayList<>();
    private long[] currentWindow;
    private long windowStart;
    private long contextSwitches, idleNanos, switchNanos;

    /**
     * @param capacity    the scheduler's maxVGpus
     * @param windowNanos the window for shares over time (e.g. 100 ms)
     */
    public SchedMetrics(int capacity, long windowNanos) {
        this(capacity, windowNanos, 0);
    }

    /**
     * Metrics whose first window starts at engine time {@code originNanos} (a real engine's clock is
     * {@link System#nanoTime()}, far from 0); slices before it are counted in the totals but in no window.
     *
     * @param capacity    the scheduler's maxVGpus
     * @param windowNanos the window for shares over time (e.g. 100 ms)
     * @param originNanos engine time at which the first window starts
     */
    public SchedMetrics(int capacity, long windowNanos, long originNanos) {
        if (windowNanos <= 0) {
            throw new io.isthmus.sched.ConfigurationException("metrics window " + windowNanos + " ns must be positive");
        }
        this.capacity = capacity;
        this.windowNanos = windowNanos;
        service = new long[capacity];
        charged = new long[capacity];
        slices = new long[capacity];
        items = new long[capacity];
        joinedAt = new long[capacity];
        leftAt = new long[capacity];
        Arrays.fill(leftAt, Long.MAX_VALUE);
        wait = new Histogram[capacity];
        configs = new VGpuConfig[capacity];
        currentWindow = new long[capacity];
        windowStart = originNanos;
    }

    @Override
    public void joined(int v, VGpuConfig config, long now) {
        configs[v] = config;
        joinedAt[v] = now;
        leftAt[v] = Long.MAX_VALUE;
        if (wait[v] == null) {
            wait[v] = new Histogram(3);
        }
    }

    @Override
    public void left(int v, long now) {
        leftAt[v] = now;
    }

    @Override
    public void itemStarted(int v, long waitNanos) {
        items[v]++;
        wait[v].recordValue(Math.max(0, waitNanos));
    }

    @Override
    public void slice(int v, long start, long end, long granted, int n) {
        slices[v]++;
        service[v] += end - start;
        // Split the slice over the windows it spans.
        long s = Math.max(start, windowStart);
        while (s < end) {
            rollTo(s);
            long wEnd = windowStart + windowNanos;
            long e = Math.min(end, wEnd);
            currentWindow[v] += e - s;
            s = e;
        }
    }

    @Override
    public void charged(int v, long nanos) {
        charged[v] += nanos;
    }

    @Override
    public void idle(long start, long end, int reason, int v) {
        idleNanos += end - start;
    }

    @Override
    public void contextSwitch(int from, int to, long start, long cost) {
        contextSwitches++;
        switchNanos += cost;
    }

    private void rollTo(long t) {
        while (t >= windowStart + windowNanos) {
            windows.add(currentWindow);
            currentWindow = new long[capacity];
            windowStart += windowNanos;
        }
    }

    /**
     * Starts the windows afresh at engine time {@code originNanos}: windows closed so far are dropped (the totals are
     * kept). For a run that measures only after its setup; on the scheduler's thread.
     */
    public void startWindowsAt(long originNanos) {
        windows.clear();
        currentWindow = new long[capacity];
        windowStart = originNanos;
    }

    /** Closes the window containing {@code endNanos} and every earlier one; call once at the end of a run. */
    public void finish(long endNanos) {
        rollTo(endNanos);
        if (endNanos > windowStart) {
            windows.add(currentWindow);
            currentWindow = new long[capacity];
            windowStart += windowNanos;
        }
    }

    /** @return the engine time the policy charged vGPU {@code v} (what its share is reckoned in), ns */
    public long chargedNanos(int v) {
        return charged[v];
    }

    /** @return engine time {@code v} received, ns */
    public long serviceNanos(int v) {
        return service[v];
    }

    /** @return slices {@code v} ran */
    public long slices(int v) {
        return slices[v];
    }

    /** @return items {@code v} started */
    public long items(int v) {
        return items[v];
    }

    /** @return {@code v}'s wait-latency histogram (ns), or null if it never joined */
    public Histogram waitHistogram(int v) {
        return wait[v];
    }

    /** @return {@code v}'s configuration when it joined, or null */
    public VGpuConfig config(int v) {
        return configs[v];
    }

    /** @return engine time when {@code v} joined */
    public long joinedAt(int v) {
        return joinedAt[v];
    }

    /** @return engine time when {@code v} left, or Long.MAX_VALUE */
    public long leftAt(int v) {
        return leftAt[v];
    }

    /** @return context switches */
    public long contextSwitches() {
        return contextSwitches;
    }

    /** @return engine idle time, ns */
    public long idleNanos() {
        return idleNanos;
    }

    /** @return engine time spent switching, ns */
    public long switchNanos() {
        return switchNanos;
    }

    /** @return the window length, ns */
    public long windowNanos() {
        return windowNanos;
    }

    /** @return closed windows */
    public int windowCount() {
        return windows.size();
    }

    /** @return engine time {@code v} received in window {@code w}, ns */
    public long windowService(int w, int v) {
        return windows.get(w)[v];
    }

    /**
     * Jain's index over window {@code w} for the vGPUs {@code vgpus}, each one's service divided by its weight.
     *
     * @return the index, 1 when perfectly weighted-fair
     */
    public double windowJain(int w, int[] vgpus) {
        double[] x = new double[vgpus.length];
        long[] win = windows.get(w);
        for (int i = 0; i < vgpus.length; i++) {
            int v = vgpus[i];
            x[i] = (double) win[v] / (configs[v] == null ? 1 : configs[v].weight());
        }
        return Fairness.jain(x);
    }

    /** Jain's index over the whole run for {@code vgpus}, service divided by weight. */
    public double jain(int[] vgpus) {
        double[] x = new double[vgpus.length];
        for (int i = 0; i < vgpus.length; i++) {
            int v = vgpus[i];
            x[i] = (double) service[v] / (configs[v] == null ? 1 : configs[v].weight());
        }
        return Fairness.jain(x);
    }
}
