package io.isthmus.sched.engine;

/**
 * The kernel set every device engine runs, and what a launch carries: one definition for the simulated, host and
 * CUDA engines, the vGPU device and its guest driver. A launch names a kernel by {@link #id()} and carries up to
 * {@link #MAX_ARGS} 64-bit argument words; a buffer argument is a device-memory handle (in a vGPU's own handle
 * space), and the kernel uses that buffer from its first byte. Results are bit-exact on every engine, so tests compare
 * them: floating point is IEEE binary32, each multiply-add one fused, correctly rounded {@code fma} in a fixed order.
 *
 * <pre>
 * id kernel  word 0          word 1           word 2          word 3       computes
 * 1  SPIN    micros (0-1e6)  -                -               -            nothing, for exactly that long (a clock spin)
 * 2  SAXPY   n (0-2^28)      a (float bits)   x (buffer)      y (buffer)   y[i] = fma(a, x[i], y[i]), i &lt; n
 * 3  COPY    bytes (0-2^40)  src (buffer)     dst (buffer)    -            dst[0..bytes) = src[0..bytes)
 * 4  MATMUL  n (1-1024)      A (buffer)       B (buffer)      C (buffer)   C = A B, n x n row-major; C[i][j] = acc,
 *                                                                          acc = 0, acc = fma(A[i][k], B[k][j], acc)
 *                                                                          for k = 0 .. n-1; C is neither A nor B
 * </pre>
 *
 * SAXPY needs {@code 4n} bytes in x and y, COPY {@code bytes} in src and dst (the same buffer is allowed), MATMUL
 * {@code 4n²} in each of A, B and C. Unused words are ignored. Stateless; thread-safe.
 */
public enum Kernel {
    /** Busy for {@code micros} microseconds of the engine's clock: a kernel whose length is known exactly. */
    SPIN(1, 1),
    /** Single-precision a·x + y over n elements, in place in y: memory-bound, 12 bytes moved per element. */
    SAXPY(2, 4),
    /** A device-to-device copy of {@code bytes} bytes: purely memory-bound. */
    COPY(3, 3),
    /** A small dense single-precision matrix multiply, 2n³ flops: compute-bound. */
    MATMUL(4, 4);

    /** The most argument words a launch carries. */
    public static final int MAX_ARGS = 6;
    /** The longest spin, µs. */
    public static final long MAX_SPIN_MICROS = 1_000_000;
    /** The largest SAXPY, elements. */
    public static final long MAX_SAXPY_N = 1L << 28;
    /** The largest COPY, bytes. */
    public static final long MAX_COPY_BYTES = 1L << 40;
    /** The largest MATMUL dimension. */
    public static final long MAX_MATMUL_N = 1024;

    private static final Kernel[] BY_ID = {null, SPIN, SAXPY, COPY, MATMUL};

    private final int id;
    private final int argCount;

    Kernel(int id, int argCount) {
        this.id = id;
        this.argCount = argCount;
    }

    /** @return its id on the wire, 1 to 4 */
    public int id() {
        return id;
    }

    /** @return how many argument words it reads */
    public int argCount() {
        return argCount;
    }

    /** @return the kernel with {@code id}, or null when there is none (a guest value: never throws) */
    public static Kernel byId(long id) {
        return id > 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }

    /** @return whether argument word {@code arg} is a buffer handle */
    public boolean isBuffer(int arg) {
        return switch (this) {
            case SPIN -> false;
            case SAXPY -> arg == 2 || arg == 3;
            case COPY -> arg == 1 || arg == 2;
            case MATMUL -> arg >= 1 && arg <= 3;
        };
    }

    /**
     * Whether the scalar words are in range (buffers are checked against their allocations by the caller, with
     * {@link #bufferBytes}). Allocates nothing.
     *
     * @param args the launch's words, at least {@link #MAX_ARGS} long
     */
    public boolean scalarsValid(long[] args) {
        long a0 = args[0];
        return switch (this) {
            case SPIN -> a0 >= 0 && a0 <= MAX_SPIN_MICROS;
            case SAXPY -> a0 >= 0 && a0 <= MAX_SAXPY_N && (args[1] >>> 32) == 0;
            case COPY -> a0 >= 0 && a0 <= MAX_COPY_BYTES;
            case MATMUL -> a0 >= 1 && a0 <= MAX_MATMUL_N && args[3] != args[1] && args[3] != args[2];
        };
    }

    /** @return the bytes buffer argument {@code arg} must hold, given valid scalars; 0 for a non-buffer word */
    public long bufferBytes(int arg, long[] args) {
        if (!isBuffer(arg)) {
            return 0;
        }
        return switch (this) {
            case SPIN -> 0;
            case SAXPY -> 4 * args[0];
            case COPY -> args[0];
            case MATMUL -> 4 * args[0] * args[0];
        };
    }

    /**
     * A simulated engine's time for this launch: spin exactly; the others from the bytes they move and the flops they
     * do at the given rates (a roofline: whichever takes longer), at least 1 ns.
     *
     * @param bytesPerNanos memory bandwidth (e.g. 3000 for an H200's ~3 TB/s; 20 for a host core)
     * @param flopsPerNanos arithmetic rate (e.g. 50,000 for an H200's FP32; 4 for a host core)
     */
    public long modelNanos(long[] args, double bytesPerNanos, double flopsPerNanos) {
        double bytes, flops;
        switch (this) {
            case SPIN -> {
                return Math.max(1, args[0] * 1_000);
            }
            case SAXPY -> {
                bytes = 12.0 * args[0];
                flops = 2.0 * args[0];
            }
            case COPY -> {
                bytes = 2.0 * args[0];
                flops = 0;
            }
            default -> {
                double n = args[0];
                bytes = 12.0 * n * n;
                flops = 2.0 * n * n * n;
            }
        }
        return Math.max(1, (long) Math.max(bytes / bytesPerNanos, flops / flopsPerNanos));
    }
}
