package io.isthmus.sched.run;

import io.isthmus.sched.WorkItem;
import io.isthmus.sched.engine.DeviceContext;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.EngineTask;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.engine.Kernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The baseline a vGPU's throughput is compared with: the same launches a {@link Tenant} makes, submitted by the
 * calling thread straight to one engine context through the engine's {@code execute} (no scheduler, no requests, no
 * validation, no completions), for a given time. Lifetime: one {@link #run}. Thread-safety: the caller's thread only.
 */
public final class DirectRun {
    /** What it did. @param launches launches completed @param gpuNanos their device time, ns @param wallNanos elapsed */
    public record Result(long launches, long gpuNanos, long wallNanos) {
        /** @return launches per second */
        public double rate() {
            return launches * 1e9 / wallNanos;
        }
    }

    private DirectRun() {
    }

    /** Runs {@code mix} round robin on a fresh context of {@code engine} for {@code nanos} of wall time. */
    public static Result run(DeviceEngine engine, List<Launch> mix, long memory, long nanos) {
        long largest = 4096;
        for (Launch l : mix) {
            largest = Math.max(largest, l.bufferBytes());
        }
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ram = arena.allocate(largest, 4096);
            SplittableRandom r = new SplittableRandom(1);
            for (long o = 0; o + 4 <= largest; o += 4) {
                ram.set(ValueLayout.JAVA_FLOAT, o, (float) (r.nextDouble() * 2 - 1));
            }
            try (DeviceContext dc = engine.open(0, memory, GuestRam.of(ram))) {
                long[][] args = new long[mix.size()][Kernel.MAX_ARGS];
                long off = 0;
                for (int i = 0; i < mix.size(); i++) {
                    Launch l = mix.get(i);
                    args[i][0] = l.size();
                    args[i][1] = l.kernel() == Kernel.SAXPY ? Float.floatToRawIntBits(0.5f) : 0;
                    for (int a = 0; a < Kernel.MAX_ARGS; a++) {
                        if (l.kernel().isBuffer(a)) {
                            args[i][a] = off;
                            dc.copyIn(0, 0, off, l.bufferBytes());
                            off += (l.bufferBytes() + 255) & -256L;
                        }
                    }
                }
                // Each launch goes through the engine's execute, as the scheduler's do (a paced simulated engine
                // holds its thread for the modelled time there; the others just run it), with no scheduler around it.
                long[] device = new long[1];
                WorkItem[] items = new WorkItem[mix.size()];
                for (int i = 0; i < items.length; i++) {
                    int k = i;
                    items[i] = new WorkItem().payload((EngineTask) () -> {
                        long t = dc.launch(mix.get(k).kernel(), args[k]);
                        if (t == DeviceContext.FAILED) {
                            throw new IllegalStateException("direct launch failed: " + dc.lastError());
                        }
                        device[0] = t;
                        return t;
                    });
                }
                long launches = 0, gpu = 0;
                long t0 = System.nanoTime(), end = t0 + nanos, now;
                int next = 0;
                do {
                    engine.execute(items[next]);
                    gpu += device[0];
                    launches++;
                    next = next + 1 == mix.size() ? 0 : next + 1;
                    now = System.nanoTime();
                } while (now < end);
                return new Result(launches, gpu, now - t0);
            }
        }
    }
}
