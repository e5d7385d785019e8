package io.isthmus.sched.cuda;

import io.isthmus.sched.engine.Kernel;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The kernel set as the CUDA engine launches it: the PTX shipped as a resource (built from
 * {@code sched/src/main/cuda/kernels.cu} by its {@code build-ptx.sh}; JIT-compiled by the driver), each kernel's entry
 * name and parameter types, how a launch's words are packed into {@code cuLaunchKernel}'s parameter array, and its
 * grid. Stateless; the packing writes only into the caller's scratch memory.
 */
public final class CudaKernels {
    /** The resource holding the PTX. */
    public static final String PTX_RESOURCE = "/io/isthmus/sched/cuda/kernels.ptx";
    /** Threads per block for the one-dimensional kernels; 16 x 16 for matmul. */
    static final int BLOCK = 256, TILE = 16;
    /** The most blocks a grid-stride kernel is given (enough to fill an H200's 132 SMs many times over). */
    static final int MAX_BLOCKS = 8192;
    /** Bytes per parameter slot in the values block. */
    public static final int SLOT = 8;

    private CudaKernels() {
    }

    /** @return the PTX image, NUL-terminated, as cuModuleLoadData takes it */
    public static byte[] ptx() {
        try (InputStream in = CudaKernels.class.getResourceAsStream(PTX_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the CUDA kernels' PTX " + PTX_RESOURCE + " is missing from the jar");
            }
            byte[] text = in.readAllBytes();
            byte[] image = new byte[text.length + 1];
            System.arraycopy(text, 0, image, 0, text.length);
            return image;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the CUDA kernels' PTX " + PTX_RESOURCE, e);
        }
    }

    /** @return the PTX as text (tests) */
    public static String ptxText() {
        byte[] b = ptx();
        return new String(b, 0, b.length - 1, StandardCharsets.US_ASCII);
    }

    /** @return {@code k}'s entry in the PTX */
    public static String entry(Kernel k) {
        return "isthmus_" + k.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** @return {@code k}'s parameter types as PTX declares them (.u64 for words and pointers, .f32 for saxpy's a) */
    public static List<String> paramTypes(Kernel k) {
        return switch (k) {
            case SPIN -> List.of("u64");
            case SAXPY -> List.of("u64", "f32", "u64", "u64");
            case COPY -> List.of("u64", "u64", "u64");
            case MATMUL -> List.of("u64", "u64", "u64", "u64");
        };
    }

    /**
     * Writes {@code k}'s parameters into {@code values} (one {@link #SLOT}-byte slot each, little-endian): scalars as
     * they are (saxpy's {@code a} as its 4 float bytes at the start of its slot), buffers as {@code deviceBase} plus
     * their offset. The driver reads each parameter through a pointer to its slot (see {@link #pointTo}).
     *
     * @param args the launch's words, buffers already device offsets
     */
    public static void pack(Kernel k, long[] args, long deviceBase, MemorySegment values) {
        for (int i = 0; i < k.argCount(); i++) {
            long v = k.isBuffer(i) ? deviceBase + args[i] : args[i];
            if (k == Kernel.SAXPY && i == 1) {
                values.set(ValueLayout.JAVA_INT_UNALIGNED, (long) i * SLOT, (int) v);
            } else {
                values.set(ValueLayout.JAVA_LONG_UNALIGNED, (long) i * SLOT, v);
            }
        }
    }

    /** Fills {@code params} (an array of {@link Kernel#MAX_ARGS} pointers) with the addresses of the slots in values. */
    public static void pointTo(MemorySegment params, MemorySegment values) {
        for (int i = 0; i < Kernel.MAX_ARGS; i++) {
            params.set(ValueLayout.ADDRESS, (long) i * ValueLayout.ADDRESS.byteSize(), values.asSlice((long) i * SLOT));
        }
    }

    /** @return {@code {gridX, gridY, blockX, blockY}} for a launch of {@code k} with {@code args} (into {@code out}) */
    public static int[] grid(Kernel k, long[] args, int[] out) {
        switch (k) {
            case SPIN -> set(out, 1, 1, 1, 1);
            case SAXPY -> set(out, blocks(args[0]), 1, BLOCK, 1);
            case COPY -> set(out, blocks((args[0] + 15) / 16), 1, BLOCK, 1);
            case MATMUL -> {
                int g = (int) ((args[0] + TILE - 1) / TILE);
                set(out, g, g, TILE, TILE);
            }
        }
        return out;
    }

    private static int blocks(long threads) {
        return (int) Math.max(1, Math.min(MAX_BLOCKS, (threads + BLOCK - 1) / BLOCK));
    }

    private static void set(int[] out, int gx, int gy, int bx, int by) {
        out[0] = gx;
        out[1] = gy;
        out[2] = bx;
        out[3] = by;
    }
}
