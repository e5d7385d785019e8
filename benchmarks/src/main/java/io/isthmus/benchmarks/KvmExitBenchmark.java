package io.isthmus.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
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

import io.isthmus.kvm.Kvm;
import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Vcpu;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.ExitDispatcher;
import io.isthmus.kvm.x86.CpuModes;

/**
 * The cost of one guest exit round trip — {@code KVM_RUN}, the exit decoded from {@code kvm_run}, dispatched to a
 * device on a bus, back into the guest — from Java, against a C program doing the same with the same guest bytes.
 *
 * <p>Guests (assembled with gcc at setup): {@code pio} loops on {@code out %eax, $0x10}; {@code mmio} loops on a
 * 4-byte store to {@code 0xd0000000}. Both run in 32-bit flat protected mode from 0x1000 in 2 MiB of RAM, on the
 * benchmark thread. {@link #java} is the Java run loop's per-exit work (what {@code VcpuThread} does per exit);
 * {@link #c} asks the C baseline, built with gcc at setup and kept running in a child process, for
 * {@value #BATCH} exits per invocation over a pipe (the pipe round trip is about 0.1% of a batch). Scores are ns
 * per exit; Java/C is {@code java}/{@code c} for the same guest. Run with {@code -prof gc} to see 0 B/op.
 *
 * <p>On a loaded machine the two methods run seconds apart under different load, so {@link #interleaved}
 * alternates a Java batch and a C batch within every invocation and reports, as {@link Split} counters summed
 * over the measurement iterations, the nanoseconds each side spent ({@code javaNanos}: timed around the Java
 * batch; {@code cNanos}: timed by the C program around its own batch, so the pipe is excluded) and the exits each
 * ran ({@code exitsEach}). Java/C = {@code javaNanos / cNanos}; ns per exit = {@code javaNanos / exitsEach}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class KvmExitBenchmark {
    /** Exits per benchmark invocation, on both sides. */
    static final int BATCH = 2000;
    private static final long CODE = 0x1000, GDT = 0x500;

    @Param({"pio", "mmio"})
    public String guest;

    private Kvm kvm;
    private GuestMemory memory;
    private Vm vm;
    private Vcpu vcpu;
    private KvmRun run;
    private ExitDispatcher dispatcher;
    private Sink sink;

    private Process baseline;
    private Writer toBaseline;
    private BufferedReader fromBaseline;

    /** The device at the end of the bus: keeps the last value written, as a trivial register would. */
    static final class Sink implements BusDevice {
        long last;

        @Override
        public long read(long offset, int size) {
            return last;
        }

        @Override
        public void write(long offset, int size, long value) {
            last = offset + value;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Toolchain tools = new Toolchain();
        String source = "kvm/" + guest + "_loop.S";
        byte[] code = tools.assembleGuest(source, Toolchain.KVM_GUEST_ORIGIN);

        kvm = Kvm.open();
        // Create and close a throwaway VM with a vCPU and RAM first: the one-time class initialisation of the close
        // path (~240 KB) would otherwise run in the trial teardown, which -prof gc charges to the last iteration.
        try (GuestMemory scratch = GuestMemory.anonymous(0x10000); Vm throwaway = kvm.createVm()) {
            throwaway.addMemory(scratch, 0);
            throwaway.createVcpu(0);
        }
        memory = GuestMemory.anonymous(2 << 20);
        vm = kvm.createVm();
        vm.setTssAddr(0xfffbd000L);
        vm.addMemory(memory, 0);
        memory.write(CODE, code);
        vcpu = vm.createVcpu(0);
        CpuModes.protectedMode32(vcpu, memory, GDT, CODE);
        vcpu.setRegs(vcpu.getRegs().rsp(0x8000));
        run = vcpu.run();
        sink = new Sink();
        PioBus pio = new PioBus();
        MmioBus mmio = new MmioBus();
        pio.insert(0x10, 4, sink, "sink port");
        mmio.insert(0xd0000000L, 0x1000, sink, "sink mmio");
        dispatcher = new ExitDispatcher(pio, mmio);

        baseline = new ProcessBuilder(tools.compileC("kvm/kvm_exit_baseline.c").toString(),
                tools.guestBinary(source, Toolchain.KVM_GUEST_ORIGIN).toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        toBaseline = new OutputStreamWriter(baseline.getOutputStream(), StandardCharsets.US_ASCII);
        fromBaseline = new BufferedReader(new InputStreamReader(baseline.getInputStream(), StandardCharsets.US_ASCII));
        c(); // fail at setup, not mid-measurement, if the baseline cannot run
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (baseline != null) {
            toBaseline.close();
            baseline.waitFor(10, TimeUnit.SECONDS);
            baseline.destroy();
        }
        vm.close();
        memory.close();
        kvm.close();
    }

    /** Time split of {@link #interleaved}: JMH sums these over the measurement iterations. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Split {
        public long javaNanos;
        public long cNanos;
        public long exitsEach;

        @Setup(Level.Iteration)
        public void reset() {
            javaNanos = 0;
            cNanos = 0;
            exitsEach = 0;
        }
    }

    /** A Java batch then a C batch of {@value #BATCH} exits each, timed separately into {@link Split}. */
    @Benchmark
    @OperationsPerInvocation(2 * BATCH)
    public long interleaved(Split split) throws IOException {
        long t0 = System.nanoTime();
        long v = java();
        long t1 = System.nanoTime();
        split.cNanos += c();
        split.javaNanos += t1 - t0;
        split.exitsEach += BATCH;
        return v;
    }

    /** Java: {@value #BATCH} exit round trips through {@code Vcpu.runRaw} and the {@link ExitDispatcher}. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long java() {
        final Vcpu vcpu = this.vcpu;
        final KvmRun run = this.run;
        final ExitDispatcher dispatcher = this.dispatcher;
        for (int i = 0; i < BATCH; i++) {
            int r = vcpu.runRaw();
            if (r < 0 || !dispatcher.dispatch(run)) {
                throw new IllegalStateException("KVM_RUN returned " + r + ", exit " + KvmRun.exitName(run.exitReason()));
            }
        }
        return sink.last;
    }

    /**
     * C: the same {@value #BATCH} exit round trips in the gcc-built baseline (child process); returns the
     * nanoseconds the C program measured around its batch.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long c() throws IOException {
        toBaseline.write(BATCH + "\n");
        toBaseline.flush();
        String line = fromBaseline.readLine();
        if (line == null) {
            throw new IllegalStateException("the C baseline exited; see its stderr above");
        }
        return Long.parseLong(line);
    }
}
