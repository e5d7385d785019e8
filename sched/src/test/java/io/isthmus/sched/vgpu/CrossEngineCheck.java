package io.isthmus.sched.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.Kernel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Runs the same requests on an engine and on the host engine and compares the bytes that come back. */
public final class CrossEngineCheck {
    private CrossEngineCheck() {
    }

    /** Saxpy, copy and matmul on random inputs: {@code engine}'s output equals the host engine's, byte for byte. */
    public static void assertSameResults(DeviceEngine engine) {
        MemorySegment want = run(new HostEngine()), got = run(engine);
        assertEquals(-1, want.mismatch(got), "the engines' results differ at the byte shown");
    }

    private static MemorySegment run(DeviceEngine engine) {
        try (Harness h = new Harness(engine)) {
            Harness.Tenant t = h.tenant(1, 1 << 22, 1 << 22);
            SplittableRandom r = new SplittableRandom(7);
            for (long o = 0; o < (1 << 20); o += 4) {
                t.ram.set(ValueLayout.JAVA_FLOAT, o, (float) (r.nextDouble() * 2 - 1));
            }
            int n = 100_000, m = 96;
            long x = t.alloc(4L * n), y = t.alloc(4L * n), z = t.alloc(4L * n);
            long a = t.alloc(4L * m * m), b = t.alloc(4L * m * m), c = t.alloc(4L * m * m);
            t.run(new VgpuRequest().copyIn(0, x, 0, 4L * n));
            t.run(new VgpuRequest().copyIn(4L * n, y, 0, 4L * n));
            t.run(new VgpuRequest().copyIn(0, a, 0, 4L * m * m));
            t.run(new VgpuRequest().copyIn(65536, b, 0, 4L * m * m));
            t.run(new VgpuRequest().launch(Kernel.SAXPY, n, Float.floatToRawIntBits(-1.25f), x, y));
            t.run(new VgpuRequest().launch(Kernel.COPY, 4L * n - 3, y, z, 0));
            t.run(new VgpuRequest().launch(Kernel.MATMUL, m, a, b, c));
            long out = 2L << 20;
            t.run(new VgpuRequest().copyOut(out, z, 0, 4L * n));
            t.run(new VgpuRequest().copyOut(out + 4L * n, c, 0, 4L * m * m));
            MemorySegment copy = MemorySegment.ofArray(new byte[(int) (4L * n + 4L * m * m)]);
            MemorySegment.copy(t.ram, out, copy, 0, copy.byteSize());
            return copy;
        }
    }
}
