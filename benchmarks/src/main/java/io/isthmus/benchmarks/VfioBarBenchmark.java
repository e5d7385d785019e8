package io.isthmus.benchmarks;

import io.isthmus.vfio.Mmio;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vfio.pci.PciConfig;
import io.isthmus.vfio.pci.PciDevice;
import java.io.IOException;
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
 * BAR register latency through a mapped {@link MemorySegment}: a 32-bit read of BAR0+0x00 (edu's identification
 * register) or a 32-bit write of BAR0+0x04 (edu's liveness register) with {@link Mmio} (volatile, one access per
 * call), against the C baseline ({@code vfio_baseline.c bar-read|bar-write}, a {@code volatile uint32_t*}) in the
 * same run. Scores are ns per access; Java/C is java/c for the same {@code op}.
 *
 * <p>Needs VFIO: run in the lab guest (see {@link VfioBenchSupport}); there each access traps to QEMU, so the
 * absolute figures are the emulator's, and only the ratio speaks for Java.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VfioBarBenchmark {
    /**
     * Accesses per invocation, on both sides: large, because the C side pays a pipe round trip per batch, which in
     * the emulated lab guest costs far more than on a host.
     */
    static final int BATCH = 100_000;

    /** The Java side: the device open through VFIO with BAR0 mapped. */
    @State(Scope.Thread)
    public static class JavaSide {
        @Param({"read", "write"})
        public String op;

        VfioContainer container;
        MemorySegment bar;

        @Setup(Level.Trial)
        public void setUp() {
            PciDevice d = VfioBenchSupport.device();
            container = VfioContainer.open();
            VfioDevice dev = container.group(d.iommuGroup().orElseThrow()).device(d.address());
            // Memory decoding and bus mastering on, as the C side does.
            dev.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
            bar = dev.mapRegion(0);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            container.close();
        }
    }

    /** The C side: the baseline process with its own container, group and mapping. */
    @State(Scope.Thread)
    public static class CSide {
        @Param({"read", "write"})
        public String op;

        VfioBenchSupport.Baseline baseline;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            PciDevice d = VfioBenchSupport.device();
            baseline = new VfioBenchSupport.Baseline("bar-" + op, Integer.toString(d.iommuGroup().orElseThrow()),
                    d.address().toString());
            baseline.batch(1);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            baseline.close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long java(JavaSide s) {
        final MemorySegment bar = s.bar;
        long sum = 0;
        if (s.op.equals("read")) {
            for (int i = 0; i < BATCH; i++) {
                sum += Mmio.read32(bar, 0x00);
            }
        } else {
            for (int i = 0; i < BATCH; i++) {
                Mmio.write32(bar, 0x04, i);
            }
            sum = BATCH;
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long c(CSide s) throws IOException {
        return s.baseline.batch(BATCH);
    }
}
