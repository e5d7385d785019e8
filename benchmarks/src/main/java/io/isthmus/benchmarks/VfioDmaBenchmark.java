package io.isthmus.benchmarks;

import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.pci.PciDevice;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * DMA map+unmap throughput: one {@code VFIO_IOMMU_MAP_DMA} and one {@code VFIO_IOMMU_UNMAP_DMA} of {@code size}
 * bytes of populated anonymous memory, 2 MiB-aligned on both sides (THP eligibility changes the cost), at IOVA 0x100000 (below edu's 28-bit DMA mask), from Java
 * ({@link VfioContainer#mapRaw}/{@link VfioContainer#unmapRaw}, structures allocated once) and from the C baseline
 * ({@code vfio_baseline.c dma}) in the same run. Scores are map+unmap pairs per second; Java/C is java/c.
 *
 * <p>Needs VFIO: run in the lab guest (see {@link VfioBenchSupport}). Each side holds the group only during its
 * own trial (a group may be open once), so they are separate states. {@code -prof gc} should show 0 B/op for java.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VfioDmaBenchmark {
    static final int BATCH = 200;
    static final long IOVA = 0x100000;

    /** The Java side: a container with the device's group attached and one populated buffer. */
    @State(Scope.Thread)
    public static class JavaSide {
        @Param({"4096", "2097152"})
        public long size;

        VfioContainer container;
        DmaBuffer buffer;
        MemorySegment map, unmap;
        private final Arena arena = Arena.ofConfined();

        @Setup(Level.Trial)
        public void setUp() {
            PciDevice d = VfioBenchSupport.device();
            container = VfioContainer.open();
            container.group(d.iommuGroup().orElseThrow());
            buffer = DmaBuffer.anonymous(size, DmaBuffer.HUGE_2M); // same alignment as the C side
            map = VfioContainer.newMapStruct(arena);
            unmap = VfioContainer.newUnmapStruct(arena);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            buffer.close();
            container.close();
            arena.close();
        }
    }

    /** The C side: the baseline process with its own container and group. */
    @State(Scope.Thread)
    public static class CSide {
        @Param({"4096", "2097152"})
        public long size;

        VfioBenchSupport.Baseline baseline;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            PciDevice d = VfioBenchSupport.device();
            baseline = new VfioBenchSupport.Baseline("dma", Integer.toString(d.iommuGroup().orElseThrow()),
                    d.address().toString(), Long.toString(size));
            baseline.batch(1); // fail at setup, not mid-measurement
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            baseline.close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long java(JavaSide s) {
        final VfioContainer c = s.container;
        final MemorySegment map = s.map, unmap = s.unmap;
        final long vaddr = s.buffer.segment().address(), size = s.buffer.size();
        final int rw = VfioContainer.readWrite();
        long sum = 0;
        for (int i = 0; i < BATCH; i++) {
            int r = c.mapRaw(map, vaddr, IOVA, size, rw);
            int u = c.unmapRaw(unmap, IOVA, size);
            if (r < 0 || u < 0) {
                throw new IllegalStateException("VFIO_IOMMU_(UN)MAP_DMA failed: " + r + " / " + u);
            }
            sum += size;
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long c(CSide s) throws IOException {
        return s.baseline.batch(BATCH);
    }
}
