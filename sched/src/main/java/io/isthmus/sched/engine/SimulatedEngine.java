package io.isthmus.sched.engine;

import java.util.concurrent.locks.LockSupport;

import io.isthmus.sched.WorkItem;

/**
 * A deterministic GPU engine on a virtual clock: an item takes exactly its {@link WorkItem#durationNanos()}, a context
 * switch takes a fixed cost, and idling jumps the clock to the next arrival. Same seed, same run.
 *
 * <p>As a {@link DeviceEngine} it runs vGPU requests without computing anything: device memory is bookkeeping only
 * (nothing is stored, so copies and kernels leave no data), and each operation takes the time a model gives it:
 * copies at {@link #BYTES_PER_NANO} bytes/ns, kernels by {@link Kernel#modelNanos} at that bandwidth and
 * {@link #FLOPS_PER_NANO} flops/ns (roughly one H200: 3 TB/s, 50 TFLOP/s FP32). The vGPU layer's validation and
 * bookkeeping run for real; only the device is imagined. Every request also costs {@link #REQUEST_NANOS}.
 *
 * <p>{@link #realTime} makes the same engine paced by the wall clock instead, and {@link #now()} is
 * {@link System#nanoTime()}. That is the engine for work that comes from outside the scheduler in real time, the vGPUs
 * of KVM guests: on the virtual clock a guest's requests would finish the instant they arrive, no guest would ever be
 * backlogged, and shares would follow how fast each guest submits rather than its weight. Paced, the modelled device
 * keeps a clock of its own that each operation advances by its modelled time, and the scheduler's thread waits until
 * the wall clock reaches it (parking, spinning only for the last {@link #SPIN_NANOS}): the device never runs ahead of
 * real time, and an operation charges exactly its modelled time, as a GPU reports its own device time. A wait that
 * overshoots (the host did not run the thread in time) is made up by the next operations waiting less, so the device
 * keeps its modelled rate; it is behind by at most {@link #MAX_LAG_NANOS} (beyond that its clock restarts at the wall
 * clock's), and idling restarts it too (a device with nothing to do does not catch up afterwards). It takes no CPU
 * while it "runs", so several guests can keep it busy on a small host.
 *
 * <p>Lifetime: one simulation, or the scheduler it is paced for. Thread-safety: confined to the scheduler's thread
 * (the virtual clock is not shared), except {@link #now()} and {@link #wake()} when paced.
 */
public final class SimulatedEngine implements DeviceEngine {
    /** Modelled memory bandwidth, bytes/ns. */
    public static final double BYTES_PER_NANO = 3_000;
    /** Modelled arithmetic rate, flops/ns. */
    public static final double FLOPS_PER_NANO = 50_000;
    /**
     * What taking any request costs the modelled device, ns, on top of its operation (a GPU's command processing and
     * launch latency are a few µs): so a flood of requests, even invalid ones, uses up engine time like real work.
     */
    public static final long REQUEST_NANOS = 1_000;

    /** How long a paced operation spins at its end instead of parking, ns (a park overshoots by tens of µs). */
    public static final long SPIN_NANOS = 50_000;
    /** How far a paced device's clock may fall behind the wall clock and still catch up, ns. */
    public static final long MAX_LAG_NANOS = 50_000_000;

    private final long switchCostNanos;
    private final boolean paced;
    private final Idler idler;
    private ArrivalSource arrivals;
    private long clock;

    /** @param switchCostNanos what one context switch costs, in ns, 0 or more */
    public SimulatedEngine(long switchCostNanos) {
        this(switchCostNanos, false);
    }

    /**
     * A simulated engine paced by the wall clock (see the class comment), for vGPUs fed in real time.
     *
     * @param switchCostNanos what one context switch costs, in ns, 0 or more
     */
    public static SimulatedEngine realTime(long switchCostNanos) {
        return new SimulatedEngine(switchCostNanos, true);
    }

    private SimulatedEngine(long switchCostNanos, boolean paced) {
        this.paced = paced;
        this.idler = paced ? new Idler() : null;
        this.clock = paced ? System.nanoTime() : 0;
        if (switchCostNanos < 0) {
            throw new io.isthmus.sched.ConfigurationException("context-switch cost " + switchCostNanos
                    + " ns is negative; use 0 or more");
        }
        this.switchCostNanos = switchCostNanos;
    }

    /** @param source where work comes from as the clock advances, or null for none; @return this */
    public SimulatedEngine arrivals(ArrivalSource source) {
        this.arrivals = source;
        return this;
    }

    @Override
    public long now() {
        return paced ? System.nanoTime() : clock;
    }

    @Override
    public long execute(WorkItem item) {
        long d = item.payload() instanceof EngineTask t ? REQUEST_NANOS + t.run() : item.durationNanos();
        if (paced) {
            return occupy(d);
        }
        clock += d;
        deliver();
        return d;
    }

    @Override
    public long switchContext(int from, int to) {
        if (paced) {
            return occupy(switchCostNanos);
        }
        clock += switchCostNanos;
        deliver();
        return switchCostNanos;
    }

    // Paced: advances the device's clock by d (from no further back than MAX_LAG_NANOS) and holds the scheduler's
    // thread until the wall clock reaches it, parking through all but the last SPIN_NANOS; d is what it charges.
    private long occupy(long d) {
        long now = System.nanoTime();
        if (now - clock > MAX_LAG_NANOS) {
            clock = now;
        }
        clock += d;
        long left;
        while ((left = clock - System.nanoTime()) > SPIN_NANOS) {
            LockSupport.parkNanos(left - SPIN_NANOS);
        }
        while (System.nanoTime() - clock < 0) {
            Thread.onSpinWait();
        }
        return d;
    }

    @Override
    public void wake() {
        if (paced) {
            idler.wake();
        }
    }

    @Override
    public void idleUntil(long deadline) {
        if (paced) {
            idler.idleUntil(deadline);
            // Time spent idle is not lag to make up: a device that had nothing to do does not run faster after.
            long now = System.nanoTime();
            if (now - clock > 0) {
                clock = now;
            }
            return;
        }
        long t = deadline;
        if (arrivals != null) {
            t = Math.min(t, arrivals.nextArrivalNanos());
        }
        if (t == Long.MAX_VALUE) {
            return; // nothing will arrive on the virtual clock: work can only come from another thread, so do not jump
        }
        if (t > clock) {
            clock = t;
        }
        deliver();
    }

    @Override
    public String name() {
        return "sim";
    }

    @Override
    public DeviceContext open(int vgpu, long memoryBytes, GuestRam ram) {
        if (memoryBytes <= 0) {
            throw new io.isthmus.sched.ConfigurationException("vGPU " + vgpu + ": device memory must be positive, got "
                    + memoryBytes);
        }
        return new Context(memoryBytes);
    }

    @Override
    public void close() {
    }

    /** A vGPU on the simulated engine: its memory is a size, its operations modelled times. */
    private static final class Context implements DeviceContext {
        private final long bytes;

        Context(long bytes) {
            this.bytes = bytes;
        }

        @Override
        public long memoryBytes() {
            return bytes;
        }

        @Override
        public long copyIn(int region, long ramOffset, long devOffset, long length) {
            return Math.max(1, (long) (length / BYTES_PER_NANO));
        }

        @Override
        public long copyOut(long devOffset, int region, long ramOffset, long length) {
            return Math.max(1, (long) (length / BYTES_PER_NANO));
        }

        @Override
        public long launch(Kernel kernel, long[] args) {
            return kernel.modelNanos(args, BYTES_PER_NANO, FLOPS_PER_NANO);
        }

        @Override
        public long fence() {
            return 0;
        }

        @Override
        public String lastError() {
            return null;
        }

        @Override
        public void close() {
        }
    }

    private void deliver() {
        if (arrivals != null) {
            arrivals.deliverUpTo(clock);
        }
    }
}
