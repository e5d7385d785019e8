package io.isthmus.sched.vgpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.Kernel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The kernel set through the whole request path on the host engine: results bit-exact against the spec. */
class HostEngineKernelsTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return a;
    }

    private static void put(MemorySegment ram, long off, float[] a) {
        MemorySegment.copy(a, 0, ram, F, off, a.length);
    }

    private static float[] get(MemorySegment ram, long off, int n) {
        float[] a = new float[n];
        MemorySegment.copy(ram, F, off, a, 0, n);
        return a;
    }

    @Test
    void saxpyCopyAndMatmulMatchTheSpecToTheBit() {
        try (Harness h = new Harness(new HostEngine())) {
            Harness.Tenant t = h.tenant(1, 1 << 20, 1 << 20);
            int n = 1000;
            float a = 1.7f;
            float[] x = random(n, 1), y = random(n, 2);
            put(t.ram, 0, x);
            put(t.ram, 4096, y);
            long hx = t.alloc(4L * n), hy = t.alloc(4L * n);
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().copyIn(0, hx, 0, 4L * n)));
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().copyIn(4096, hy, 0, 4L * n)));
            VgpuRequest launch = new VgpuRequest().launch(Kernel.SAXPY, n, Float.floatToRawIntBits(a), hx, hy);
            assertEquals(VgpuStatus.OK, t.run(launch));
            assertTrue(launch.gpuNanos() > 0, "device time " + launch.gpuNanos());
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().copyOut(8192, hy, 0, 4L * n)));
            float[] want = new float[n];
            for (int i = 0; i < n; i++) {
                want[i] = Math.fma(a, x[i], y[i]);
            }
            assertArrayEquals(want, get(t.ram, 8192, n));

            // COPY: y's bytes into a fresh buffer, read back.
            long hz = t.alloc(4L * n);
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().launch(Kernel.COPY, 4L * n, hy, hz, 0)));
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().copyOut(16384, hz, 0, 4L * n)));
            assertArrayEquals(want, get(t.ram, 16384, n));

            // MATMUL 24 x 24.
            int m = 24;
            float[] ma = random(m * m, 3), mb = random(m * m, 4);
            put(t.ram, 32768, ma);
            put(t.ram, 65536, mb);
            long ha = t.alloc(4L * m * m), hb = t.alloc(4L * m * m), hc = t.alloc(4L * m * m);
            t.run(new VgpuRequest().copyIn(32768, ha, 0, 4L * m * m));
            t.run(new VgpuRequest().copyIn(65536, hb, 0, 4L * m * m));
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().launch(Kernel.MATMUL, m, ha, hb, hc)));
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().copyOut(131072, hc, 0, 4L * m * m)));
            float[] c = new float[m * m];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) {
                    float acc = 0f;
                    for (int k = 0; k < m; k++) {
                        acc = Math.fma(ma[i * m + k], mb[k * m + j], acc);
                    }
                    c[i * m + j] = acc;
                }
            }
            assertArrayEquals(c, get(t.ram, 131072, m * m));
        }
    }

    @Test
    void spinTakesItsDurationAndAFenceCompletesAfterIt() {
        try (Harness h = new Harness(new HostEngine())) {
            Harness.Tenant t = h.tenant(1, 1 << 16, 1 << 16);
            VgpuRequest spin = new VgpuRequest().launch(Kernel.SPIN, 300, 0, 0, 0);
            VgpuRequest fence = new VgpuRequest().fence();
            assertEquals(VgpuStatus.OK, t.ctx.submit(spin));
            assertEquals(VgpuStatus.OK, t.ctx.submit(fence));
            h.inFlight += 2;
            h.drain();
            assertEquals(VgpuStatus.OK, spin.status());
            assertTrue(spin.gpuNanos() >= 300_000 && spin.gpuNanos() < 50_000_000, "spin took " + spin.gpuNanos());
            assertEquals(VgpuStatus.OK, fence.status());
            assertTrue(fence.completedNanos() >= spin.completedNanos(), "the fence completes after the spin");
            assertEquals(spin, h.done.poll(), "completions come in submission order");
            assertEquals(fence, h.done.poll());
        }
    }
}
