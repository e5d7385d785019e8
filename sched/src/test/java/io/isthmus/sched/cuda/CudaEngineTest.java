package io.isthmus.sched.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.EngineUnavailableException;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sys.CudaDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** What of the CUDA engine can be checked without a GPU: the shipped PTX, argument packing, grids, the refusal. */
class CudaEngineTest {

    @Test
    void theShippedPtxDeclaresEveryKernelWithTheParametersTheEnginePacks() {
        String ptx = CudaKernels.ptxText();
        assertTrue(ptx.contains(".version 7.0") && ptx.contains(".target sm_80"), "PTX ISA 7.0 for sm_80 and newer");
        for (Kernel k : Kernel.values()) {
            Matcher m = Pattern.compile("\\.entry " + CudaKernels.entry(k) + "\\(([^)]*)\\)").matcher(ptx);
            assertTrue(m.find(), "entry " + CudaKernels.entry(k) + " in the PTX");
            List<String> types = new ArrayList<>();
            Matcher p = Pattern.compile("\\.param \\.(\\w+) ").matcher(m.group(1));
            while (p.find()) {
                types.add(p.group(1));
            }
            assertEquals(CudaKernels.paramTypes(k), types, k + "'s parameters");
            assertEquals(k.argCount(), types.size());
        }
        assertEquals(0, CudaKernels.ptx()[CudaKernels.ptx().length - 1], "NUL-terminated for cuModuleLoadData");
    }

    @Test
    void argumentsArePackedAsTheKernelsReadThem() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment values = a.allocate(Kernel.MAX_ARGS * CudaKernels.SLOT, 8);
            MemorySegment params = a.allocate(ValueLayout.ADDRESS, Kernel.MAX_ARGS);
            CudaKernels.pointTo(params, values);
            for (int i = 0; i < Kernel.MAX_ARGS; i++) {
                assertEquals(values.address() + 8L * i, params.getAtIndex(ValueLayout.ADDRESS, i).address());
            }
            long base = 0x7f00_0000_0000L;
            long[] args = {1000, Float.floatToRawIntBits(2.5f), 256, 4352, 0, 0};
            CudaKernels.pack(Kernel.SAXPY, args, base, values);
            assertEquals(1000, values.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(2.5f, values.get(ValueLayout.JAVA_FLOAT, 8), "a as the float's own 4 bytes");
            assertEquals(base + 256, values.get(ValueLayout.JAVA_LONG, 16), "x as a device pointer");
            assertEquals(base + 4352, values.get(ValueLayout.JAVA_LONG, 24));
            CudaKernels.pack(Kernel.MATMUL, new long[] {64, 0, 16384, 32768, 0, 0}, base, values);
            assertEquals(64, values.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(base, values.get(ValueLayout.JAVA_LONG, 8));
            assertEquals(base + 32768, values.get(ValueLayout.JAVA_LONG, 24));
        }
    }

    @Test
    void gridsCoverEveryElement() {
        int[] g = new int[4];
        assertArrayEquals(new int[] {1, 1, 1, 1}, CudaKernels.grid(Kernel.SPIN, new long[] {5, 0, 0, 0, 0, 0}, g));
        assertArrayEquals(new int[] {4, 1, 256, 1}, CudaKernels.grid(Kernel.SAXPY, new long[] {1000, 0, 0, 0, 0, 0}, g));
        assertArrayEquals(new int[] {8192, 1, 256, 1},
                CudaKernels.grid(Kernel.SAXPY, new long[] {1L << 28, 0, 0, 0, 0, 0}, g), "grid-stride beyond 8192 blocks");
        assertArrayEquals(new int[] {1, 1, 256, 1}, CudaKernels.grid(Kernel.COPY, new long[] {0, 0, 0, 0, 0, 0}, g));
        assertArrayEquals(new int[] {5, 5, 16, 16}, CudaKernels.grid(Kernel.MATMUL, new long[] {65, 0, 0, 0, 0, 0}, g));
    }

    @Test
    void withoutADriverTheEngineRefusesInOneLine() {
        Assumptions.assumeFalse(CudaDriver.available(), "this machine has a CUDA driver; the refusal is for one without");
        EngineUnavailableException e = assertThrows(EngineUnavailableException.class, () -> CudaEngine.create(0));
        assertTrue(e.getMessage().startsWith("--engine cuda: " + CudaDriver.NO_DRIVER), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }

    @Test
    void onAGpuTheKernelsMatchTheHostEngineToTheBit() {
        Assumptions.assumeTrue(CudaDriver.available(), CudaDriver.NO_DRIVER + " (this test runs on the GPU machine)");
        io.isthmus.sched.vgpu.CrossEngineCheck.assertSameResults(CudaEngine.create(0));
    }
}
