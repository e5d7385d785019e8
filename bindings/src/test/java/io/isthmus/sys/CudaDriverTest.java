package io.isthmus.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.bindings.cuda.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The driver loads lazily: where libcuda.so.1 is absent, one clear exception, the same every time, and no crash. */
class CudaDriverTest {

    @Test
    void loadsTheDriverOrSaysWhatIsMissing() {
        if (CudaDriver.available()) {
            // A GPU machine: the driver is initialised and answers.
            try (Arena a = Arena.ofConfined()) {
                MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
                CudaDriver.check(cuda_h.cuDriverGetVersion(v), "cuDriverGetVersion");
                assertTrue(v.get(ValueLayout.JAVA_INT, 0) >= 12000, "driver version " + v.get(ValueLayout.JAVA_INT, 0));
                assertEquals("CUDA_ERROR_OUT_OF_MEMORY", CudaDriver.errorName(cuda_h.CUDA_ERROR_OUT_OF_MEMORY()));
            }
            return;
        }
        CudaException first = assertThrows(CudaException.class, CudaDriver::load);
        assertTrue(first.getMessage().startsWith(CudaDriver.NO_DRIVER) || first.getMessage().startsWith("cuInit"),
                first.getMessage());
        assertFalse(first.getMessage().contains("\n"), "one line: " + first.getMessage());
        assertEquals(CudaException.UNAVAILABLE, first.result());
        assertSame(first, assertThrows(CudaException.class, CudaDriver::load), "the load is tried once");
        assertEquals(first.getMessage(), CudaDriver.unavailableReason());
    }

    @Test
    void resultsAreNamedEvenWithoutADriver() {
        CudaException e = new CudaException("cuMemAlloc 64 MiB for vGPU 2", 2);
        assertTrue(e.getMessage().startsWith("cuMemAlloc 64 MiB for vGPU 2: "), e.getMessage());
        assertEquals(2, e.result());
        if (!CudaDriver.available()) {
            assertEquals("cuMemAlloc 64 MiB for vGPU 2: CUresult 2 (unknown)", e.getMessage());
        }
        CudaDriver.check(0, "no error");
        assertThrows(CudaException.class, () -> CudaDriver.check(1, "cuLaunchKernel"));
    }
}
