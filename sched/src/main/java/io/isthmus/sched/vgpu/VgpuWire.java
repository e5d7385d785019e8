package io.isthmus.sched.vgpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The vGPU's request and completion as they lie in guest memory (little-endian), for the virtio device and the guest
 * driver: one definition of the offsets, read into and written from a reusable {@link VgpuRequest} without allocating.
 *
 * <pre>
 * request, 64 bytes (the device-readable descriptor)      completion, 32 bytes (the device-writable one)
 *  0  u32 op (VgpuOp)                                        0  u64 tag (the request's, untouched)
 *  4  u32 kernel id (LAUNCH; else 0)                         8  u32 status (VgpuStatus)
 *  8  u64 tag (the driver's cookie)                         12  u32 reserved, 0
 * 16  u64 word 0                                            16  u64 result (ALLOC's handle; else 0)
 * 24  u64 word 1                                            24  u64 device time, ns
 * 32  u64 word 2
 * 40  u64 word 3
 * 48  u64 word 4
 * 56  u64 word 5
 * </pre>
 *
 * The device checks that a descriptor is at least {@link #REQUEST_BYTES} (resp. {@link #COMPLETION_BYTES}) long and
 * inside guest RAM before calling these; what the words mean is {@link VgpuOp}'s, checked when the request runs.
 * Stateless.
 */
public final class VgpuWire {
    /** A request's size in guest memory. */
    public static final int REQUEST_BYTES = 64;
    /** A completion's size in guest memory. */
    public static final int COMPLETION_BYTES = 32;
    /** Request field offsets. */
    public static final int OP = 0, KERNEL = 4, TAG = 8, WORDS = 16;
    /** Completion field offsets. */
    public static final int C_TAG = 0, C_STATUS = 8, C_RESULT = 16, C_GPU_NANOS = 24;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private VgpuWire() {
    }

    /** Reads the request at {@code offset} of {@code mem} into {@code into}; @return into */
    public static VgpuRequest readRequest(MemorySegment mem, long offset, VgpuRequest into) {
        return into.set(mem.get(U32, offset + OP), mem.get(U32, offset + KERNEL), mem.get(U64, offset + TAG),
                mem.get(U64, offset + WORDS), mem.get(U64, offset + WORDS + 8), mem.get(U64, offset + WORDS + 16),
                mem.get(U64, offset + WORDS + 24), mem.get(U64, offset + WORDS + 32), mem.get(U64, offset + WORDS + 40));
    }

    /** Writes {@code r} as a request at {@code offset} of {@code mem} (the guest driver's side; tests). */
    public static void writeRequest(VgpuRequest r, MemorySegment mem, long offset) {
        mem.set(U32, offset + OP, r.op());
        mem.set(U32, offset + KERNEL, r.kernel());
        mem.set(U64, offset + TAG, r.tag());
        for (int i = 0; i < 6; i++) {
            mem.set(U64, offset + WORDS + 8L * i, r.word(i));
        }
    }

    /** Writes {@code r}'s completion at {@code offset} of {@code mem}. */
    public static void writeCompletion(VgpuRequest r, MemorySegment mem, long offset) {
        mem.set(U64, offset + C_TAG, r.tag());
        mem.set(U32, offset + C_STATUS, r.status());
        mem.set(U32, offset + C_STATUS + 4, 0);
        mem.set(U64, offset + C_RESULT, r.result());
        mem.set(U64, offset + C_GPU_NANOS, r.gpuNanos());
    }

    /** Writes a completion with {@code status} for a request refused at submission (BUSY, CLOSED). */
    public static void writeRefusal(long tag, int status, MemorySegment mem, long offset) {
        mem.set(U64, offset + C_TAG, tag);
        mem.set(U32, offset + C_STATUS, status);
        mem.set(U32, offset + C_STATUS + 4, 0);
        mem.set(U64, offset + C_RESULT, 0);
        mem.set(U64, offset + C_GPU_NANOS, 0);
    }
}
