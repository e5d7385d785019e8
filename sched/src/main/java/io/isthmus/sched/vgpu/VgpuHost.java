package io.isthmus.sched.vgpu;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.GpuScheduler;
import io.isthmus.sched.SchedListener;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.DeviceContext;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.GuestRam;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;

/**
 * One GPU engine shared by vGPUs: a {@link GpuScheduler} over a {@link DeviceEngine}, the scheduler's thread, and the
 * {@link VgpuContext}s it opens. The vGPU device of each VM opens one context (its weight, cap and memory quota) and
 * submits requests to it; the scheduler's thread gives each vGPU its share of the engine and runs its requests.
 *
 * <p>Two ways to drive it: {@link #start()} runs the scheduler on its own thread ({@code isthmus-vgpu}) until
 * {@link #close()}; or, never started, the caller's thread is the scheduler's and advances it with {@link #runUntil}
 * (a simulated engine's virtual clock, tests, benchmarks). Opening and closing contexts are control work: it runs on
 * the scheduler's thread between decisions, and the caller waits for it.
 *
 * <p>Lifetime: until {@link #close()}, which closes every context still open and stops the thread. The engine stays the
 * caller's: close it after the host (one engine can serve one host after another).
 * Thread-safety: {@link #open}, {@link VgpuContext#close()} and {@link #close()} from any thread; listeners must be
 * added before {@link #start()}.
 */
public final class VgpuHost implements AutoCloseable {
    /** The longest the scheduler's thread sleeps between looking for control work, ns. */
    private static final long IDLE_STEP_NANOS = 10_000_000;

    private final DeviceEngine engine;
    private final GpuScheduler scheduler;
    private final ConcurrentLinkedQueue<Runnable> control = new ConcurrentLinkedQueue<>();
    private final List<VgpuContext> contexts = new ArrayList<>();
    private volatile Thread thread;
    private volatile boolean stopping;
    private boolean closed;
    private int nextTag = 1;

    /** A host over {@code engine}, scheduled by {@code config}; not started. */
    public VgpuHost(SchedulerConfig config, DeviceEngine engine) {
        this.engine = engine;
        this.scheduler = new GpuScheduler(config, engine);
    }

    /** @return its scheduler (inspect it, add listeners before {@link #start()}) */
    public GpuScheduler scheduler() {
        return scheduler;
    }

    /** @return its engine */
    public DeviceEngine engine() {
        return engine;
    }

    /** Adds a scheduler listener; before {@link #start()}. */
    public void addListener(SchedListener l) {
        if (thread != null) {
            throw new IllegalStateException("add listeners before start(): they run on the scheduler's thread");
        }
        scheduler.addListener(l);
    }

    /**
     * Opens a vGPU: a share of the engine ({@code config}: weight, cap, reservation), {@code memoryBytes} of device
     * memory (its quota), and {@code ram} for its copies.
     *
     * @param completion called on the scheduler's thread for each finished request
     * @throws ConfigurationException when the engine is full, the reservations would pass 100 %, or the engine cannot
     *     provide the memory
     */
    public VgpuContext open(VGpuConfig config, long memoryBytes, GuestRam ram, VgpuCompletion completion) {
        return open(config, memoryBytes, ram, completion, null);
    }

    /**
     * Opens a vGPU as {@link #open(VGpuConfig, long, GuestRam, VgpuCompletion)} does, in place of {@code replaces} (the
     * same tenant's vGPU, closed by a device reset; null for none): the new vGPU owes what the old one owed when it
     * closed, and is charged the engine time spent closing the old one and opening itself, so that a guest resetting
     * its device in a loop neither sheds its debt nor spends the engine's time uncharged.
     *
     * @throws IllegalStateException when {@code replaces} is still open
     */
    public VgpuContext open(VGpuConfig config, long memoryBytes, GuestRam ram, VgpuCompletion completion,
                            VgpuContext replaces) {
        if (replaces != null && !replaces.isClosed()) {
            throw new IllegalStateException("a vGPU can only replace a closed one");
        }
        if (memoryBytes < DeviceHeapLimits.MIN || memoryBytes > DeviceHeapLimits.MAX) {
            throw new ConfigurationException("vGPU memory " + memoryBytes + " bytes is out of range; use "
                    + DeviceHeapLimits.MIN + " bytes to 1 TiB (e.g. memory=256M)");
        }
        return call(() -> {
            if (closed) {
                throw new IllegalStateException("the vGPU host is closed");
            }
            long t0 = engine.now();
            int tag = nextTag;
            nextTag = nextTag == 0xFFFF ? 1 : nextTag + 1;
            DeviceContext dc = engine.open(tag, memoryBytes, ram);
            VgpuContext c = new VgpuContext(this, dc, ram, tag, completion);
            try {
                c.join(scheduler, config);
            } catch (RuntimeException e) {
                dc.close();
                throw e;
            }
            contexts.add(c);
            if (replaces != null) {
                scheduler.carryOver(c.vgpu(), replaces.debtAtClose(),
                        replaces.closeNanos() + Math.max(0, engine.now() - t0));
            }
            return c;
        });
    }

    /** Starts the scheduler's thread; at most once. */
    public synchronized void start() {
        if (thread != null || closed) {
            throw new IllegalStateException("the vGPU host was already started or closed");
        }
        Thread t = new Thread(this::loop, "isthmus-vgpu-" + engine.name());
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    private void loop() {
        while (!stopping) {
            runControl();
            scheduler.step(engine.now() + IDLE_STEP_NANOS);
        }
        runControl();
    }

    /**
     * Runs the scheduler on the caller's thread until the engine's clock reaches {@code endNanos}, doing any control
     * work between decisions. Only on a host that was not started.
     */
    public void runUntil(long endNanos) {
        if (thread != null) {
            throw new IllegalStateException("the vGPU host runs on its own thread; runUntil is for one never started");
        }
        while (engine.now() < endNanos) {
            runControl();
            scheduler.step(endNanos);
        }
        runControl();
    }

    private void runControl() {
        Runnable r;
        while ((r = control.poll()) != null) {
            r.run();
        }
    }

    /**
     * Runs {@code work} on the scheduler's thread between two decisions and waits for it (on the caller's thread when
     * the host was never started): for anything that must not race the scheduler, e.g. reading or resetting metrics.
     */
    public void runOnSchedulerThread(Runnable work) {
        control(work);
    }

    /** Runs {@code work} on the scheduler's thread and waits; on the caller's when not started. */
    void control(Runnable work) {
        call(() -> {
            work.run();
            return null;
        });
    }

    private <T> T call(java.util.function.Supplier<T> work) {
        Thread t = thread;
        if (t == null || t == Thread.currentThread() || !t.isAlive()) {
            synchronized (this) {
                return work.get();
            }
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        control.add(() -> {
            try {
                f.complete(work.get());
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        engine.wake();
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the vGPU scheduler's thread", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        }
    }

    /** Closes every open context (their queued requests complete as CLOSED) and stops the thread. */
    @Override
    public void close() {
        List<VgpuContext> open;
        synchronized (this) {
            if (closed) {
                return;
            }
            open = new ArrayList<>(contexts);
        }
        for (VgpuContext c : open) {
            c.close();
        }
        control(() -> {
            closed = true;
        });
        Thread t = thread;
        stopping = true;
        engine.wake();
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // A context closed: forget it (scheduler's thread).
    void closed(VgpuContext c) {
        contexts.remove(c);
    }

    /** The range of a vGPU's memory quota. */
    static final class DeviceHeapLimits {
        static final long MIN = 4096, MAX = 1L << 40;

        private DeviceHeapLimits() {
        }
    }
}
