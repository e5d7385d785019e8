package io.isthmus.sched.vgpu;

/**
 * The status a vGPU request completes with: stable wire values (the vGPU device writes them into its completions and
 * the guest driver reads them). Returned as plain ints so that no error path allocates or throws. Stateless.
 */
public final class VgpuStatus {
    /** Done. */
    public static final int OK = 0;
    /** The op code is not one of {@link VgpuOp}'s. */
    public static final int BAD_OP = 1;
    /** LAUNCH named no kernel of the set ({@link io.isthmus.sched.engine.Kernel}). */
    public static final int BAD_KERNEL = 2;
    /** A scalar is out of range: a negative or zero size, a kernel argument past its limit, an aliased output. */
    public static final int BAD_ARGUMENT = 3;
    /** A handle names no live allocation of this vGPU: never allocated, freed, stale, or another vGPU's. */
    public static final int BAD_HANDLE = 4;
    /** A device range leaves its allocation (offset + length past its size, or a buffer too small for the kernel). */
    public static final int OUT_OF_BOUNDS = 5;
    /** A guest range is not wholly inside guest RAM (or wraps around). Nothing was touched. */
    public static final int BAD_GUEST_ADDRESS = 6;
    /** The allocation does not fit the vGPU's memory quota (or its table of allocations is full). */
    public static final int OUT_OF_MEMORY = 7;
    /** Refused at submission: the vGPU's queue is full. Resubmit after a completion. */
    public static final int BUSY = 8;
    /** The vGPU is closed: refused at submission, or handed back unrun when it closed. */
    public static final int CLOSED = 9;
    /** The device failed the operation (a CUDA error); the vGPU stays usable. */
    public static final int DEVICE_ERROR = 10;
    /** Not completed yet (a request in flight). */
    public static final int PENDING = -1;

    private static final String[] NAMES = {"OK", "BAD_OP", "BAD_KERNEL", "BAD_ARGUMENT", "BAD_HANDLE",
        "OUT_OF_BOUNDS", "BAD_GUEST_ADDRESS", "OUT_OF_MEMORY", "BUSY", "CLOSED", "DEVICE_ERROR"};

    private VgpuStatus() {
    }

    /** @return the status's name, e.g. {@code BAD_HANDLE}, or {@code PENDING} / {@code STATUS n} */
    public static String name(int status) {
        return status >= 0 && status < NAMES.length ? NAMES[status] : status == PENDING ? "PENDING" : "STATUS " + status;
    }
}
