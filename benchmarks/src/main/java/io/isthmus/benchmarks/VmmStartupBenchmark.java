package io.isthmus.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cold start to guest exit, whole process: a trivial Multiboot guest (one {@code out} to isa-debug-exit) under
 * {@code qemu-system-x86_64 -M microvm -accel kvm} and under {@code bin/isthmus vmm} with the same options, in the
 * same run, so their ratio is meaningful on a loaded machine. Peak RSS of each run comes from
 * {@code /usr/bin/time -f %M} and is reported as an auxiliary counter ({@code peakRssKiB}: JMH sums it over
 * the measured runs, so divide by the run count).
 *
 * <p>Run from the repository root: {@code bin/isthmus bench VmmStartupBenchmark} (target: isthmus ≤ 1.0× QEMU's
 * time and ≤ 1.2× its peak RSS). The guest is {@code vmm/startup_guest.S} ({@link Toolchain}); the launcher is
 * {@code $isthmus.root/bin/isthmus} (default: the working directory's). Where the host has no {@code /dev/kvm},
 * {@code bin/isthmus bench} runs this in the lab guest, QEMU and the launcher side by side on its nested KVM.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 15)
@Fork(1)
public class VmmStartupBenchmark {
    @Param({"qemu", "isthmus"})
    public String vmm;

    private List<String> command;

    /** Peak RSS of the last run, for JMH's auxiliary counters. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Rss {
        public long peakRssKiB;
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException, InterruptedException {
        Path elf = new Toolchain().multibootGuest("vmm/startup_guest.S");
        Path root = Path.of(System.getProperty("isthmus.root", System.getProperty("user.dir")));
        command = new ArrayList<>(List.of("/usr/bin/time", "-f", "%M"));
        if (vmm.equals("qemu")) {
            command.add("qemu-system-x86_64");
        } else {
            command.addAll(List.of(root.resolve("bin/isthmus").toString(), "vmm"));
        }
        command.addAll(List.of("-M", "microvm", "-accel", "kvm", "-display", "none", "-serial", "null", "-device",
                "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", elf.toString()));
        // One untimed run: builds the VMM and its AOT cache if needed.
        once();
    }

    private long once() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = p.waitFor();
        if (status != 0x43) {
            throw new IllegalStateException(command + " exited with " + status + ", expected 67: " + err);
        }
        String[] lines = err.strip().split("\n");
        return Long.parseLong(lines[lines.length - 1].strip());
    }

    @Benchmark
    public void coldStartToGuestExit(Rss rss) throws IOException, InterruptedException {
        rss.peakRssKiB = once();
    }
}
