package io.isthmus.sched.engine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The {@link Kernel} set computed on the calling host thread, over device memory that is an off-heap segment: the
 * reference the other engines' results are compared with. Each follows the spec in {@link Kernel} to the bit
 * ({@code Math.fma} is the correctly rounded fused multiply-add the CUDA kernels' {@code __fmaf_rn} is). Stateless;
 * allocates nothing.
 */
public final class HostKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private HostKernels() {
    }

    /**
     * Runs {@code kernel} over {@code mem}.
     *
     * @param args the launch's words, buffers as byte offsets into {@code mem}, already validated
     */
    public static void run(Kernel kernel, MemorySegment mem, long[] args) {
        switch (kernel) {
            case SPIN -> spin(args[0]);
            case SAXPY -> saxpy(mem, args[0], Float.intBitsToFloat((int) args[1]), args[2], args[3]);
            case COPY -> MemorySegment.copy(mem, args[1], mem, args[2], args[0]);
            case MATMUL -> matmul(mem, (int) args[0], args[1], args[2], args[3]);
        }
    }

    /** Spins on the host clock for {@code micros} µs (a GPU spin kernel reads its global timer the same way). */
    public static void spin(long micros) {
        long end = System.nanoTime() + micros * 1_000;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    /** {@code y[i] = fma(a, x[i], y[i])} for {@code i < n}; x and y are byte offsets. */
    public static void saxpy(MemorySegment mem, long n, float a, long x, long y) {
        for (long i = 0; i < n; i++) {
            long o = 4 * i;
            mem.set(F, y + o, Math.fma(a, mem.get(F, x + o), mem.get(F, y + o)));
        }
    }

    /** {@code C = A B} for n x n row-major matrices at byte offsets a, b, c; the sum over k in order, fused. */
    public static void matmul(MemorySegment mem, int n, long a, long b, long c) {
        for (int i = 0; i < n; i++) {
            long row = a + 4L * i * n;
            for (int j = 0; j < n; j++) {
                float acc = 0f;
                long col = b + 4L * j;
                for (int k = 0; k < n; k++) {
                    acc = Math.fma(mem.get(F, row + 4L * k), mem.get(F, col + 4L * k * n), acc);
                }
                mem.set(F, c + 4L * (i * (long) n + j), acc);
            }
        }
    }
}
