package io.isthmus.benchmarks;

import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.DeviceContext;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.vgpu.VgpuContext;
import io.isthmus.sched.vgpu.VgpuHost;
import io.isthmus.sched.vgpu.VgpuRequest;
import io.isthmus.sched.vgpu.VgpuStatus;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One launch on the host engine, two ways, in the same run: {@code direct} calls the engine context (what a host
 * process submitting straight to the engine pays), {@code path} goes through the whole vGPU path on one thread:
 * a request filled, submitted to its vGPU's queue, a scheduler step (doorbell, decision, slice), validation and handle
 * translation, the launch, the completion call. The difference is the path's own CPU cost per request (no thread
 * hand-over: a real device's wake-up and interrupt come on top, see {@code isthmus sched run}'s breakdown). Run with
 * {@code -prof gc}: the path allocates nothing. {@code spin:0} is an empty kernel, so the path's cost is all there is;
 * saxpy over 16K elements is a small real kernel.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1)
public class VgpuPathBenchmark {
    @Param({"spin0", "saxpy16k"})
    String kernel;

    private Arena arena;
    private VgpuHost host;
    private VgpuContext ctx;
    private DeviceContext direct;
    private final VgpuRequest request = new VgpuRequest();
    private final long[] args = new long[Kernel.MAX_ARGS];
    private long x, y;
    private boolean done;
    private Kernel k;
    private long n;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        MemorySegment ram = arena.allocate(1 << 20, 4096);
        HostEngine engine = new HostEngine();
        host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 4), engine);
        ctx = host.open(VGpuConfig.weighted(1), 1 << 20, GuestRam.of(ram), r -> done = true);
        x = alloc(1 << 16);
        y = alloc(1 << 16);
        direct = engine.open(0, 1 << 20, GuestRam.of(ram));
        k = kernel.equals("spin0") ? Kernel.SPIN : Kernel.SAXPY;
        n = k == Kernel.SPIN ? 0 : 16 * 1024;
        args[0] = n;
        args[1] = Float.floatToRawIntBits(0.5f);
        args[2] = 0;
        args[3] = 1 << 16;
    }

    private long alloc(long bytes) {
        request.alloc(bytes);
        run();
        return request.result();
    }

    private void run() {
        done = false;
        if (ctx.submit(request) != VgpuStatus.OK) {
            throw new IllegalStateException("refused");
        }
        while (!done) {
            host.scheduler().step(Long.MAX_VALUE);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        direct.close();
        host.close();
        arena.close();
    }

    @Benchmark
    public long direct() {
        return direct.launch(k, args);
    }

    @Benchmark
    public int path() {
        request.launch(k, n, Float.floatToRawIntBits(0.5f), x, y);
        run();
        return request.status();
    }
}
