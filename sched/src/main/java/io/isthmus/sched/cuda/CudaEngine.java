package io.isthmus.sched.cuda;

import static io.isthmus.bindings.cuda.cuda_h.*;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.WorkItem;
import io.isthmus.sched.engine.DeviceContext;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.EngineTask;
import io.isthmus.sched.engine.EngineUnavailableException;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.engine.Idler;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sys.CudaDriver;
import io.isthmus.sys.CudaException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The GPU engine: one NVIDIA GPU through the CUDA driver API (bindings' jextract output for {@code cuda.h}, the driver
 * loaded lazily by {@link CudaDriver}). Each vGPU gets a CUDA <em>context</em> of its own ({@link #open}): its device
 * memory is one {@code cuMemAlloc} of its quota (zeroed), its guest RAM is registered with the driver
 * ({@code cuMemHostRegister}), so copies are DMA straight from and to guest memory with no bounce buffer, the kernel
 * set is loaded from the shipped PTX into that context, and each operation is bracketed by two CUDA events whose
 * elapsed time is the device time its completion reports.
 *
 * <p>Why a context per vGPU rather than a stream per vGPU in one context: contexts have separate GPU address spaces,
 * so a vGPU's kernels cannot reach another's memory even through a bug in a kernel, and a fault (a sticky error such as
 * an illegal address) poisons only the context it happened in: that vGPU's requests fail as DEVICE_ERROR while the
 * others go on. Streams in one context share one address space and one fate. The price is a context switch on the GPU
 * when the scheduler moves to another vGPU (time-sliced by the GPU, tens of µs on recent parts) where streams would
 * switch for free; with slices of 1-2 ms that is a few per cent at most, and {@code benchmarks/gpu/run-on-gpu.sh}
 * measures both what the switch costs and the isolation (see the README). Requests run one at a time on the
 * scheduler's thread, each to completion (its stop event synchronised), so the scheduler's slices are the GPU's.
 *
 * <p>Lifetime: {@link #create} to {@link #close()}, after its contexts. Thread-safety: as {@link DeviceEngine}; a
 * context's operations make it current on the calling thread first.
 */
public final class CudaEngine implements DeviceEngine {
    private final int device;
    private final String deviceName;
    private final Idler idler = new Idler();

    private CudaEngine(int device, String deviceName) {
        this.device = device;
        this.deviceName = deviceName;
    }

    /**
     * Opens GPU {@code ordinal}.
     *
     * @throws EngineUnavailableException when there is no driver or no such GPU, in one line
     */
    public static CudaEngine create(int ordinal) {
        try {
            CudaDriver.load();
        } catch (CudaException e) {
            throw new EngineUnavailableException("--engine cuda: " + e.getMessage(), e);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(ValueLayout.JAVA_INT);
            CudaDriver.check(cuDeviceGet(dev, ordinal), "cuDeviceGet " + ordinal);
            MemorySegment name = a.allocate(256);
            CudaDriver.check(cuDeviceGetName(name, 256, dev.get(ValueLayout.JAVA_INT, 0)), "cuDeviceGetName");
            return new CudaEngine(dev.get(ValueLayout.JAVA_INT, 0), name.getString(0));
        } catch (CudaException e) {
            throw new EngineUnavailableException("--engine cuda: GPU " + ordinal + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    /** @return the GPU's name, e.g. {@code NVIDIA H200} */
    public String deviceName() {
        return deviceName;
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
        // The context itself is made current by the next operation (cuCtxSetCurrent); the GPU's own switch between
        // contexts happens when that operation's work reaches it, and lands in its events' time.
        return 0;
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
        return new Context(this, vgpu, memoryBytes, ram);
    }

    @Override
    public void close() {
    }

    /** One vGPU on the GPU: a CUDA context with its memory, registered RAM, module, stream and two events. */
    static final class Context implements DeviceContext {
        private final Arena arena = Arena.ofShared();
        private final GuestRam ram;
        private final long bytes;
        private final MemorySegment ctx, module, stream, start, stop;
        private final MemorySegment[] functions = new MemorySegment[Kernel.values().length];
        private final MemorySegment values, params, millis;
        private final int[] grid = new int[4];
        private final long base;
        private int registered;
        private String lastError;
        private boolean closed;

        Context(CudaEngine engine, int vgpu, long bytes, GuestRam ram) {
            this.ram = ram;
            this.bytes = bytes;
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            String who = "vGPU " + vgpu + " on " + engine.deviceName;
            try {
                check(cuCtxCreate_v4(out, MemorySegment.NULL, 0, engine.device), "cuCtxCreate for " + who);
                ctx = out.get(ValueLayout.ADDRESS, 0);
                MemorySegment image = arena.allocateFrom(ValueLayout.JAVA_BYTE, CudaKernels.ptx());
                check(cuModuleLoadData(out, image), "cuModuleLoadData (the kernels' PTX) for " + who);
                module = out.get(ValueLayout.ADDRESS, 0);
                for (Kernel k : Kernel.values()) {
                    check(cuModuleGetFunction(out, module, arena.allocateFrom(CudaKernels.entry(k))),
                            "cuModuleGetFunction " + CudaKernels.entry(k));
                    functions[k.ordinal()] = out.get(ValueLayout.ADDRESS, 0);
                }
                check(cuStreamCreate(out, CU_STREAM_NON_BLOCKING()), "cuStreamCreate for " + who);
                stream = out.get(ValueLayout.ADDRESS, 0);
                check(cuEventCreate(out, CU_EVENT_DEFAULT()), "cuEventCreate");
                start = out.get(ValueLayout.ADDRESS, 0);
                check(cuEventCreate(out, CU_EVENT_DEFAULT()), "cuEventCreate");
                stop = out.get(ValueLayout.ADDRESS, 0);
                MemorySegment dptr = arena.allocate(ValueLayout.JAVA_LONG);
                check(cuMemAlloc_v2(dptr, bytes), "cuMemAlloc " + bytes + " bytes for " + who);
                base = dptr.get(ValueLayout.JAVA_LONG, 0);
                check(cuMemsetD8_v2(base, (byte) 0, bytes), "cuMemsetD8 (zeroing " + who + "'s memory)");
                for (int i = 0; i < ram.regions(); i++) {
                    MemorySegment s = ram.segment(i);
                    check(cuMemHostRegister_v2(s, s.byteSize(), CU_MEMHOSTREGISTER_PORTABLE()),
                            "cuMemHostRegister guest RAM region " + i + " (" + s.byteSize() + " bytes) for " + who);
                    registered++;
                }
                check(cuCtxSynchronize(), "cuCtxSynchronize");
            } catch (CudaException e) {
                close();
                throw new ConfigurationException(e.getMessage());
            }
            values = arena.allocate((long) Kernel.MAX_ARGS * CudaKernels.SLOT, 8);
            params = arena.allocate(ValueLayout.ADDRESS, Kernel.MAX_ARGS);
            CudaKernels.pointTo(params, values);
            millis = arena.allocate(ValueLayout.JAVA_FLOAT);
        }

        private static void check(int r, String what) {
            CudaDriver.check(r, what);
        }

        @Override
        public long memoryBytes() {
            return bytes;
        }

        @Override
        public long copyIn(int region, long ramOffset, long devOffset, long length) {
            if (!begin()) {
                return FAILED;
            }
            int r = cuMemcpyHtoDAsync_v2(base + devOffset, ram.segment(region).asSlice(ramOffset), length, stream);
            return end(r, "cuMemcpyHtoDAsync");
        }

        @Override
        public long copyOut(long devOffset, int region, long ramOffset, long length) {
            if (!begin()) {
                return FAILED;
            }
            int r = cuMemcpyDtoHAsync_v2(ram.segment(region).asSlice(ramOffset), base + devOffset, length, stream);
            return end(r, "cuMemcpyDtoHAsync");
        }

        @Override
        public long launch(Kernel kernel, long[] args) {
            if (!begin()) {
                return FAILED;
            }
            CudaKernels.pack(kernel, args, base, values);
            CudaKernels.grid(kernel, args, grid);
            int r = cuLaunchKernel(functions[kernel.ordinal()], grid[0], grid[1], 1, grid[2], grid[3], 1, 0, stream,
                    params, MemorySegment.NULL);
            return end(r, "cuLaunchKernel " + CudaKernels.entry(kernel));
        }

        @Override
        public long fence() {
            if (!begin()) {
                return FAILED;
            }
            return end(cuStreamSynchronize(stream), "cuStreamSynchronize");
        }

        // Makes the context current and records the start event; false (lastError set) when either fails.
        private boolean begin() {
            int r = cuCtxSetCurrent(ctx);
            if (r == 0) {
                r = cuEventRecord(start, stream);
            }
            if (r != 0) {
                lastError = "cuCtxSetCurrent/cuEventRecord: " + CudaDriver.errorName(r);
                return false;
            }
            return true;
        }

        // Records the stop event after the operation, waits for it, and returns the events' elapsed time in ns.
        private long end(int r, String what) {
            if (r == 0) {
                r = cuEventRecord(stop, stream);
            }
            if (r == 0) {
                r = cuEventSynchronize(stop);
            }
            if (r == 0) {
                r = cuEventElapsedTime_v2(millis, start, stop);
            }
            if (r != 0) {
                lastError = what + ": " + CudaDriver.errorName(r);
                return FAILED;
            }
            return (long) (millis.get(ValueLayout.JAVA_FLOAT, 0) * 1e6);
        }

        @Override
        public String lastError() {
            return lastError;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            // Best effort, in reverse: a context destroyed takes whatever is left with it.
            if (ctx != null) {
                cuCtxSetCurrent(ctx);
                cuCtxSynchronize();
                for (int i = 0; i < registered; i++) {
                    cuMemHostUnregister(ram.segment(i));
                }
                if (base != 0) {
                    cuMemFree_v2(base);
                }
                cuCtxDestroy_v2(ctx);
            }
            arena.close();
        }
    }
}
