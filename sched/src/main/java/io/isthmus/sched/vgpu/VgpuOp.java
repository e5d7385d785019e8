package io.isthmus.sched.vgpu;

/**
 * What a vGPU request asks for: stable wire values, and what each op reads from the request's words. Every op runs in
 * submission order on its vGPU, and each completes with a {@link VgpuStatus}, a result and its device time.
 *
 * <pre>
 * op  name      word 0         word 1   word 2       word 3   result
 * 1   ALLOC     bytes          -        -            -        a handle (never 0)
 * 2   FREE      handle         -        -            -        -
 * 3   COPY_IN   guest address  handle   dev offset   length   -        guest RAM -&gt; device memory
 * 4   COPY_OUT  guest address  handle   dev offset   length   -        device memory -&gt; guest RAM
 * 5   LAUNCH    kernel words 0-5 (the kernel id is the request's own field; see Kernel)
 * 6   FENCE     -                                             -        completes once all before it have
 * </pre>
 *
 * Stateless.
 */
public final class VgpuOp {
    /** Allocate device memory. */
    public static final int ALLOC = 1;
    /** Free an allocation. */
    public static final int FREE = 2;
    /** Copy guest RAM to device memory. */
    public static final int COPY_IN = 3;
    /** Copy device memory to guest RAM. */
    public static final int COPY_OUT = 4;
    /** Launch a kernel of the set. */
    public static final int LAUNCH = 5;
    /** Wait for everything submitted before. */
    public static final int FENCE = 6;

    private static final String[] NAMES = {"NONE", "ALLOC", "FREE", "COPY_IN", "COPY_OUT", "LAUNCH", "FENCE"};

    private VgpuOp() {
    }

    /** @return the op's name, or {@code OP n} */
    public static String name(int op) {
        return op > 0 && op < NAMES.length ? NAMES[op] : "OP " + op;
    }
}
