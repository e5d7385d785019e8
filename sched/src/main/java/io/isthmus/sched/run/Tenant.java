package io.isthmus.sched.run;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.vgpu.VgpuContext;
import io.isthmus.sched.vgpu.VgpuHost;
import io.isthmus.sched.vgpu.VgpuRequest;
import io.isthmus.sched.vgpu.VgpuStatus;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;

/**
 * A host tenant: one vGPU kept backlogged with a fixed set of launches, as a VM's driver would keep it. It allocates
 * its buffers and copies random inputs in (setup), then keeps {@code depth} launches in flight, cycling through its
 * mix, resubmitting each as it completes, until told to stop. What it records: launches completed, engine time they
 * took (completed - started on the engine's clock: what the scheduler charged), device time, completion latency
 * (submission to the tenant seeing the completion), and that latency's parts.
 *
 * <p>Two ways to run: on its own thread ({@link #start()}), completions handed over from the scheduler's thread through
 * a single-producer queue (a real engine); or inline, resubmitting from the completion call itself (a simulated engine,
 * whose virtual clock cannot wait for threads). Lifetime: one run; {@link #close()} frees its RAM after its vGPU closed.
 * Thread-safety: the counters are read by a live display from another thread; everything else is one thread's.
 */
public final class Tenant implements AutoCloseable {
    private final int index;
    private final List<Launch> mix;
    private final int depth;
    private final boolean threaded;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ram;
    private final VgpuContext ctx;
    private final long[][] buffers;
    private final VgpuRequest[] requests;
    private final SpscAtomicArrayQueue<VgpuRequest> completed;
    private final AtomicInteger setupLeft = new AtomicInteger();
    private final Histogram latency = new Histogram(3_600_000_000_000L, 3);
    private volatile Thread thread;
    private volatile boolean parked;
    private volatile boolean running, stopping;
    private volatile long launches, engineNanos, gpuNanos;
    private long errors, queueNanos, serviceNanos, deliverNanos;
    private volatile long measureFrom = Long.MAX_VALUE, measureTo = Long.MAX_VALUE;
    private int next;
    private String firstError;

    /**
     * Opens the tenant's vGPU on {@code host}.
     *
     * @param memory its device memory quota, bytes (must hold its buffers)
     * @param depth  launches kept in flight, 1 or more
     */
    public Tenant(int index, VgpuHost host, VGpuConfig config, long memory, List<Launch> mix, int depth,
                  boolean threaded) {
        this.index = index;
        this.mix = List.copyOf(mix);
        this.depth = depth;
        this.threaded = threaded;
        long need = 0, largest = 4096;
        for (Launch l : mix) {
            int n = 0;
            for (int i = 0; i < Kernel.MAX_ARGS; i++) {
                n += l.kernel().isBuffer(i) ? 1 : 0;
            }
            need += n * ((l.bufferBytes() + 255) & -256L);
            largest = Math.max(largest, l.bufferBytes());
        }
        if (need > memory) {
            throw new ConfigurationException("tenant " + index + " needs " + need + " bytes of device memory for its"
                    + " kernels' buffers but has " + memory + "; raise --memory or shrink --kernel");
        }
        ram = arena.allocate(largest, 4096);
        SplittableRandom r = new SplittableRandom(index + 1);
        for (long o = 0; o + 4 <= largest; o += 4) {
            ram.set(ValueLayout.JAVA_FLOAT, o, (float) (r.nextDouble() * 2 - 1));
        }
        buffers = new long[mix.size()][Kernel.MAX_ARGS];
        requests = new VgpuRequest[depth];
        for (int i = 0; i < depth; i++) {
            requests[i] = new VgpuRequest().tag(i);
        }
        completed = new SpscAtomicArrayQueue<>(Math.max(4, depth * 2));
        ctx = host.open(config, memory, GuestRam.of(ram), this::onCompletion);
    }

    /** @return its vGPU */
    public VgpuContext context() {
        return ctx;
    }

    /** @return its index in the run */
    public int index() {
        return index;
    }

    // The scheduler's thread.
    private void onCompletion(VgpuRequest r) {
        if (!running) {
            if (r.status() != VgpuStatus.OK) {
                noteError(r);
            }
            setupLeft.decrementAndGet();
            return;
        }
        if (!threaded) {
            account(r, r.completedNanos());
            resubmit(r);
            return;
        }
        completed.offer(r); // never full: at most depth requests exist
        if (parked) {
            LockSupport.unpark(thread);
        }
    }

    /** The setup requests, phase 0 (allocate) then phase 1 (copy inputs in); submits them and counts them. */
    void submitSetup(int phase) {
        int n = 0;
        for (int i = 0; i < mix.size(); i++) {
            Launch l = mix.get(i);
            for (int a = 0; a < Kernel.MAX_ARGS; a++) {
                if (l.kernel().isBuffer(a)) {
                    n++;
                }
            }
        }
        setupLeft.set(n);
        VgpuRequest[] rs = new VgpuRequest[n];
        int k = 0;
        for (int i = 0; i < mix.size(); i++) {
            Launch l = mix.get(i);
            for (int a = 0; a < Kernel.MAX_ARGS; a++) {
                if (!l.kernel().isBuffer(a)) {
                    continue;
                }
                VgpuRequest q = new VgpuRequest();
                rs[k++] = phase == 0 ? q.alloc(Math.max(1, l.bufferBytes()))
                        : q.copyIn(0, buffers[i][a], 0, l.bufferBytes());
                int s = ctx.submit(q);
                if (s != VgpuStatus.OK) {
                    throw new IllegalStateException("tenant " + index + ": setup refused: " + VgpuStatus.name(s));
                }
            }
        }
        setupRequests = rs;
    }

    private VgpuRequest[] setupRequests;

    /** @return whether the setup phase's requests are all back */
    boolean setupDone() {
        return setupLeft.get() == 0;
    }

    /** Takes the setup phase's results (handles after phase 0); fails when a setup request failed. */
    void finishSetup(int phase) {
        if (firstError != null) {
            throw new IllegalStateException("tenant " + index + ": setup failed: " + firstError);
        }
        if (phase == 0) {
            int k = 0;
            for (int i = 0; i < mix.size(); i++) {
                for (int a = 0; a < Kernel.MAX_ARGS; a++) {
                    if (mix.get(i).kernel().isBuffer(a)) {
                        buffers[i][a] = setupRequests[k++].result();
                    }
                }
            }
        }
    }

    /** Sets the measured period: completions from engine time {@code from} to {@code to}. */
    void measure(long from, long to) {
        measureTo = to;
        measureFrom = from;
    }

    /** Submits the first {@code depth} launches (starts the thread), measuring from {@code from} to {@code to}. */
    void begin(long from, long to) {
        measureFrom = from;
        measureTo = to;
        running = true;
        if (threaded) {
            Thread t = new Thread(this::loop, "tenant-" + index);
            t.setDaemon(true);
            thread = t;
        }
        for (VgpuRequest r : requests) {
            resubmit(r);
        }
        if (threaded) {
            thread.start();
        }
    }

    private void loop() {
        while (true) {
            VgpuRequest r = completed.poll();
            if (r == null) {
                if (stopping && ctxIdle()) {
                    return;
                }
                parked = true;
                if (completed.isEmpty()) {
                    LockSupport.parkNanos(1_000_000);
                }
                parked = false;
                continue;
            }
            long seen = System.nanoTime();
            account(r, seen);
            resubmit(r);
        }
    }

    private int outstanding;

    private boolean ctxIdle() {
        return outstanding == 0;
    }

    private void resubmit(VgpuRequest r) {
        if (stopping) {
            return;
        }
        Launch l = mix.get(next);
        long[] b = buffers[next];
        next = next + 1 == mix.size() ? 0 : next + 1;
        switch (l.kernel()) {
            case SPIN -> r.launch(Kernel.SPIN, l.size(), 0, 0, 0);
            case SAXPY -> r.launch(Kernel.SAXPY, l.size(), Float.floatToRawIntBits(0.5f), b[2], b[3]);
            case COPY -> r.launch(Kernel.COPY, l.size(), b[1], b[2], 0);
            case MATMUL -> r.launch(Kernel.MATMUL, l.size(), b[1], b[2], b[3]);
        }
        int s = ctx.submit(r);
        if (s == VgpuStatus.OK) {
            outstanding++;
        } else {
            noteError(r);
        }
    }

    private void account(VgpuRequest r, long seen) {
        outstanding--;
        if (r.status() != VgpuStatus.OK) {
            if (!(stopping && r.status() == VgpuStatus.CLOSED)) {
                noteError(r);
            }
            return;
        }
        long done = r.completedNanos();
        if (done < measureFrom || done > measureTo) {
            return;
        }
        launches++;
        engineNanos += done - r.startedNanos();
        gpuNanos += r.gpuNanos();
        latency.recordValue(Math.max(0, seen - r.submittedNanos()));
        queueNanos += r.startedNanos() - r.submittedNanos();
        serviceNanos += done - r.startedNanos();
        deliverNanos += seen - done;
    }

    private void noteError(VgpuRequest r) {
        errors++;
        if (firstError == null) {
            firstError = r.toString();
        }
    }

    /** Stops submitting; a threaded tenant's thread ends once its launches in flight are back. */
    void stop() {
        stopping = true;
        Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Waits for the thread to end (its launches in flight back), at most {@code millis}. */
    void join(long millis) throws InterruptedException {
        Thread t = thread;
        if (t != null) {
            t.join(millis);
        }
    }

    /** @return launches completed in the measured period (live) */
    public long launches() {
        return launches;
    }

    /** @return engine time its launches took in the measured period, ns (live) */
    public long engineNanos() {
        return engineNanos;
    }

    /** @return device time of its launches in the measured period, ns (live) */
    public long gpuNanos() {
        return gpuNanos;
    }

    /** @return requests that failed (after the run) */
    public long errors() {
        return errors;
    }

    /** @return the first failure, or null (after the run) */
    public String firstError() {
        return firstError;
    }

    /** @return completion latency, submission to the tenant seeing it, ns (after the run) */
    public Histogram latency() {
        return latency;
    }

    /** @return summed submission-to-start (queue and wake-up) time, ns (after the run) */
    public long queueNanos() {
        return queueNanos;
    }

    /** @return summed start-to-completion (engine) time, ns (after the run) */
    public long serviceNanos() {
        return serviceNanos;
    }

    /** @return summed completion-to-seen (hand-over to the tenant) time, ns (after the run) */
    public long deliverNanos() {
        return deliverNanos;
    }

    @Override
    public void close() {
        ctx.close();
        arena.close();
    }
}
