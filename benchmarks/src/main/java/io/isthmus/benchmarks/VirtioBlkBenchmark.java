package io.isthmus.benchmarks;

import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.vmm.virtio.VirtioBlk;
import io.isthmus.vmm.virtio.VirtioMmioTransport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * The virtio-blk read path on the device side, without KVM: a driver's request of {@code size} bytes (header,
 * one data buffer, status, as Linux's virtio_blk lays out a one-segment read) put on the available ring, the
 * QueueNotify write that processes it (ring, chain walk and checks, the positional read straight into guest RAM,
 * used ring, event index, interrupt), the used entry taken and the interrupt acknowledged, as the guest would; beside
 * it, the baseline: the same positional read from the same file into a buffer of the same kind, with no virtio
 * around it. The difference is what the virtio layer costs per request; {@code -prof gc} shows it allocates nothing.
 * The file (64 MiB, in java.io.tmpdir) is read once first, so both read the page cache.
 *
 * <p>On a loaded machine the two methods run seconds apart under different load, so {@link #interleaved}
 * alternates a batch of each within every invocation and reports, as {@link Split} counters summed over the
 * measurement iterations, the nanoseconds each side spent and the requests each ran: virtio/pread =
 * {@code virtioNanos / preadNanos}; the virtio layer's cost per request = {@code (virtioNanos - preadNanos) /
 * requestsEach}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VirtioBlkBenchmark {
    private static final long FILE_SIZE = 64L << 20;
    private static final long DESC = 0x1000, AVAIL = 0x3000, USED = 0x4000;
    private static final long HEADER = 0x10000, STATUS = 0x10100, DATA = 0x100000;
    private static final int QUEUE_SIZE = 256, F_NEXT = 1, F_WRITE = 2;
    private static final int STATUS_REG = 0x70, NOTIFY = 0x50, INT_STATUS = 0x60, INT_ACK = 0x64;

    @Param({"4096", "131072"})
    int size;

    private Path file;
    private GuestMemory memory;
    private VirtioMmioTransport transport;
    private FileChannel baseline;
    private ByteBuffer baselineBuffer;
    private long position;
    private int availIdx, usedSeen, nextDesc;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        file = Files.createTempFile("isthmus-virtio-blk", ".img");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; at < FILE_SIZE; at += chunk.capacity()) {
                chunk.clear();
                ch.write(chunk, at);
            }
        }
        memory = GuestMemory.anonymous(16L << 20);
        transport = new VirtioMmioTransport(VirtioBlk.open(file, false, null), memory, level -> { });
        start();
        baseline = FileChannel.open(file, StandardOpenOption.READ);
        baselineBuffer = memory.regions().get(0).host().asSlice(DATA, size).asByteBuffer();
        for (long at = 0; at < FILE_SIZE; at += size) { // into the page cache
            baselineBuffer.clear();
            baseline.read(baselineBuffer, at);
        }
    }

    private void reg(int offset, long value) {
        transport.write(offset, 4, value);
    }

    /** Linux's bring-up: reset, ACKNOWLEDGE | DRIVER, every offered feature, FEATURES_OK, queue 0, DRIVER_OK. */
    private void start() {
        reg(STATUS_REG, 0);
        reg(STATUS_REG, 3);
        for (int sel = 0; sel < 2; sel++) {
            reg(0x14, sel);
            long features = transport.read(0x10, 4);
            reg(0x24, sel);
            reg(0x20, features);
        }
        reg(STATUS_REG, 11);
        reg(0x30, 0);
        reg(0x38, QUEUE_SIZE);
        reg(0x80, DESC);
        reg(0x90, AVAIL);
        reg(0xa0, USED);
        reg(0x44, 1);
        reg(STATUS_REG, 15);
        if (transport.status() != 15) {
            throw new IllegalStateException("bring-up failed: status " + transport.status());
        }
    }

    private void desc(int i, long addr, int len, int flags, int next) {
        long at = DESC + 16L * i;
        memory.writeLong(at, addr);
        memory.writeInt(at + 8, len);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    private long nextPosition() {
        long p = position;
        position = (position + size) % FILE_SIZE;
        return p;
    }

    private static final int BATCH = 1000;

    /** Time split of {@link #interleaved}: JMH sums these over the measurement iterations. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Split {
        public long virtioNanos;
        public long preadNanos;
        public long requestsEach;

        @Setup(Level.Iteration)
        public void reset() {
            virtioNanos = 0;
            preadNanos = 0;
            requestsEach = 0;
        }
    }

    /** A batch of {@value #BATCH} virtio reads, then as many bare preads, timed separately into {@link Split}. */
    @Benchmark
    @OperationsPerInvocation(2 * BATCH)
    public long interleaved(Split split) throws IOException {
        long v = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < BATCH; i++) {
            v += virtioRead();
        }
        long t1 = System.nanoTime();
        for (int i = 0; i < BATCH; i++) {
            v += preadBaseline();
        }
        long t2 = System.nanoTime();
        split.virtioNanos += t1 - t0;
        split.preadNanos += t2 - t1;
        split.requestsEach += BATCH;
        return v;
    }

    @Benchmark
    public int virtioRead() {
        memory.writeInt(HEADER, VirtioBlk.T_IN);
        memory.writeLong(HEADER + 8, nextPosition() / VirtioBlk.SECTOR);
        int a = nextDesc, b = (a + 1) % QUEUE_SIZE, c = (a + 2) % QUEUE_SIZE;
        nextDesc = (a + 3) % QUEUE_SIZE;
        desc(a, HEADER, 16, F_NEXT, b);
        desc(b, DATA, size, F_NEXT | F_WRITE, c);
        desc(c, STATUS, 1, F_WRITE, 0);
        memory.writeShort(AVAIL + 4 + 2L * (availIdx % QUEUE_SIZE), (short) a);
        availIdx = (availIdx + 1) & 0xFFFF;
        memory.writeShort(AVAIL + 2, (short) availIdx);
        reg(NOTIFY, 0);
        if ((memory.readShort(USED + 2) & 0xFFFF) == usedSeen) {
            throw new IllegalStateException("request not completed");
        }
        int id = memory.readInt(USED + 4 + 8L * (usedSeen % QUEUE_SIZE));
        usedSeen = (usedSeen + 1) & 0xFFFF;
        reg(INT_ACK, transport.read(INT_STATUS, 4));
        return id + memory.readByte(STATUS);
    }

    @Benchmark
    public int preadBaseline() throws IOException {
        baselineBuffer.clear();
        return baseline.read(baselineBuffer, nextPosition());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        transport.close();
        baseline.close();
        memory.close();
        Files.deleteIfExists(file);
    }
}
