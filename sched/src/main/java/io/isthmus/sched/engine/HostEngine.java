package io.isthmus.sched.engine;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.WorkItem;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A device engine whose "GPU" is the scheduler's own thread: device memory is off-heap memory, copies are
 * {@code MemorySegment.copy} straight from and to guest RAM, kernels are {@link HostKernels}, and time is
 * {@link System#nanoTime()}. So throughput, per-request overhead and share accuracy measured on it are real numbers on
 * any machine, with the same request path a GPU engine has.
 *
 * <p>What a context switch is here: the engine has no context state of its own to save or restore (each vGPU's memory
 * is its own segment), so {@link #switchContext} costs a clock read or two. The real price of switching tenants on a
 * host is cache and TLB misses on the next tenant's data, and that lands in its first item's measured time, where a
 * GPU's context-switch cost would not. Said, not hidden: the switch cost this engine reports is the bookkeeping alone.
 *
 * <p>Idling: as {@link Idler} does (a short spin, then a park until the deadline or a wake). The
 * item time charged to a vGPU is the wall time of its whole request on this thread (validation, translation, the
 * kernel), so a request that fails validation costs its vGPU the
 * microseconds it took; the device time in its completion is the kernel's or copy's alone.
 *
 * <p>Lifetime: until {@link #close()}, after its contexts. Thread-safety: as {@link DeviceEngine}.
 */
public final class HostEngine implements DeviceEngine {
    private final Idler idler = new Idler();

    /** A host engine. */
    public HostEngine() {
    }

    @Override
    public String name() {
        return "host";
    }

    @Override
    public long now() {
        return System.nanoTime();
    }

    @Override
    public long execute(WorkItem item) {
        long t0 = System.nanoTime();
        if (item.payload() instanceof EngineTask t) {
            t.run();
        } else {
            long end = t0 + item.durationNanos();
            while (System.nanoTime() - end < 0) {
                Thread.onSpinWait();
            }
        }
        return Math.max(1, System.nanoTime() - t0);
    }

    @Override
    public long switchContext(int from, int to) {
        long t0 = System.nanoTime();
        return System.nanoTime() - t0;
    }

    @Override
    public void idleUntil(long deadline) {
        idler.idleUntil(deadline);
    }

    @Override
    public void wake() {
        idler.wake();
    }

    @Override
    public DeviceContext open(int vgpu, long memoryBytes, GuestRam ram) {
        if (memoryBytes <= 0) {
            throw new ConfigurationException("vGPU " + vgpu + ": device memory must be positive, got " + memoryBytes);
        }
        return new Context(memoryBytes, ram);
    }

    @Override
    public void close() {
    }

    /** One vGPU on the host engine: its device memory is an off-heap segment, zeroed when made. */
    static final class Context implements DeviceContext {
        private final Arena arena = Arena.ofShared();
        private final MemorySegment mem;
        private final GuestRam ram;
        private boolean closed;

        Context(long bytes, GuestRam ram) {
            try {
                this.mem = arena.allocate(bytes, 4096);
            } catch (OutOfMemoryError e) {
                arena.close();
                throw new ConfigurationException("the host engine cannot allocate " + bytes + " bytes of device"
                        + " memory (" + e.getMessage() + "); give the vGPU less memory");
            }
            this.ram = ram;
        }

        /** @return the device memory itself (tests and the direct baseline read it) */
        MemorySegment memory() {
            return mem;
        }

        @Override
        public long memoryBytes() {
            return mem.byteSize();
        }

        @Override
        public long copyIn(int region, long ramOffset, long devOffset, long length) {
            long t0 = System.nanoTime();
            MemorySegment.copy(ram.segment(region), ramOffset, mem, devOffset, length);
            return System.nanoTime() - t0;
        }

        @Override
        public long copyOut(long devOffset, int region, long ramOffset, long length) {
            long t0 = System.nanoTime();
            MemorySegment.copy(mem, devOffset, ram.segment(region), ramOffset, length);
            return System.nanoTime() - t0;
        }

        @Override
        public long launch(Kernel kernel, long[] args) {
            long t0 = System.nanoTime();
            HostKernels.run(kernel, mem, args);
            return System.nanoTime() - t0;
        }

        @Override
        public long fence() {
            return 0; // every operation has finished when it returns
        }

        @Override
        public String lastError() {
            return null;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                arena.close();
            }
        }
    }

    /** @return {@code context}'s device memory, when it is a host context (tests, the direct baseline) */
    public static MemorySegment memoryOf(DeviceContext context) {
        return ((Context) context).memory();
    }
}
