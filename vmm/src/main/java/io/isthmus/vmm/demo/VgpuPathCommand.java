package io.isthmus.vmm.demo;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ObjLongConsumer;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.cuda.CudaEngine;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.SimulatedEngine;
import io.isthmus.sched.engine.TimeSpec;
import io.isthmus.sched.run.DirectRun;
import io.isthmus.vmm.vgpu.VgpuHosts;
import io.isthmus.vmm.vgpu.VgpuStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code isthmus demo vgpu-path}: how close one VM's vGPU comes to native. It boots one KVM machine in this process
 * running the vGPU guest driver with the given kernels and depth, measures the requests completed per second over a
 * measured interval after a warm-up (the device's own count), then runs the same launches straight on a fresh engine
 * of the same kind from this thread ({@link DirectRun}: no guest, ring, scheduler or completions) for as long, and
 * prints the ratio; {@code --rounds} such alternating pairs, then the ratio over all of them. Then, unless
 * {@code --no-breakdown}, one more VM at depth 1 times every request with its TSC ({@code stats=}) and the
 * {@link Breakdown} says where a request's time goes: guest submit to completion seen by the guest, less the
 * engine's device time, split into the host's stages and the guest's.
 *
 * <p>Needs {@code /dev/kvm} (the lab's, here). Lifetime: one {@link #call()}. Thread-safety: one thread.
 */
@Command(name = "vgpu-path", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"One VM's vGPU throughput against the same kernels straight on the engine, and where a"
                + " request's time goes.",
            "Example: isthmus demo vgpu-path --engine host --kernel spin:1ms --depth 8 --rounds 3 --duration 3s"})
public final class VgpuPathCommand implements Callable<Integer> {
    /** The vGPU device memory the guest gets, and the direct run's context. */
    private static final long MEMORY = 1 << 20;
    /** How often, roughly, the depth-1 guest prints its totals. */
    private static final long STATS_EVERY_NANOS = 250_000_000L;
    private static final long BOOT_TIMEOUT = 120_000_000_000L;

    @Spec
    CommandSpec spec;

    @Option(names = {"-e", "--engine"}, defaultValue = "host", paramLabel = "ENGINE",
            description = "sim (paced by the wall clock), host (kernels on a host thread) or cuda (default ${DEFAULT-VALUE})")
    String engine;

    @Option(names = {"-k", "--kernel"}, defaultValue = "spin:1ms", paramLabel = "LIST",
            description = "the launches, round robin: spin:TIME, saxpy:ELEMENTS (<= 4096), copy:BYTES (<= 16K),"
                    + " matmul:N (<= 64) (default ${DEFAULT-VALUE})")
    String kernel;

    @Option(names = "--depth", defaultValue = "8", paramLabel = "N",
            description = "requests the guest keeps in flight, 1 to 64 (default ${DEFAULT-VALUE})")
    int depth;

    @Option(names = {"-t", "--duration"}, defaultValue = "3s", paramLabel = "T",
            description = "measured time of each side of a round, and of the breakdown (default ${DEFAULT-VALUE})")
    String duration;

    @Option(names = "--warmup", defaultValue = "1s", paramLabel = "T",
            description = "unmeasured time before each measurement (default ${DEFAULT-VALUE})")
    String warmup;

    @Option(names = {"-r", "--rounds"}, defaultValue = "3", paramLabel = "R",
            description = "alternating pairs (VM, direct), 1 to 100 (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--wait", defaultValue = "poll", paramLabel = "HOW",
            description = "how the guest waits for completions: poll (the used ring, interrupts suppressed) or irq"
                    + " (halted until the device's interrupt) (default ${DEFAULT-VALUE})")
    String wait;

    @Option(names = "--breakdown", negatable = true, defaultValue = "true",
            description = "also time each request at depth 1 and say where its time goes (default on)")
    boolean breakdown;

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        System.exit(new picocli.CommandLine(new VgpuPathCommand()).execute(args));
    }

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            return run(out);
        } catch (ConfigurationException e) {
            err.println("isthmus demo vgpu-path: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            err.println("isthmus demo vgpu-path: " + e.getMessage());
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(PrintWriter out) throws InterruptedException {
        GuestWorkload w = GuestWorkload.parse(kernel, depth);
        long measure = TimeSpec.parseNanos(duration), warm = TimeSpec.parseNanos(warmup);
        if (measure < 100_000_000L || warm < 0) {
            throw new ConfigurationException("--duration is at least 100ms and --warmup not negative");
        }
        if (rounds < 1 || rounds > 100) {
            throw new ConfigurationException("--rounds " + rounds + " is out of range; use 1 to 100");
        }
        if (!wait.equals("poll") && !wait.equals("irq")) {
            throw new ConfigurationException("--wait " + wait + ": use poll or irq");
        }
        if (!VgpuHosts.ENGINES.contains(engine)) {
            throw new ConfigurationException("--engine " + engine + " is not an engine; use sim, host or cuda");
        }
        out.printf(Locale.ROOT, "vgpu-path: engine %s, kernel %s, depth %d, guest waits by %s, %d rounds of %.3f s a"
                + " side after %.3f s of warm-up%n", engine, w.kernels(), depth, wait, rounds, measure / 1e9, warm / 1e9);
        out.flush();
        // One lease for the whole run: the engine's scheduler lives on between the rounds' machines, as in a
        // long-running VMM process.
        try (VgpuHosts.Lease _ = VgpuHosts.acquire(engine)) {
            List<Double> ratios = new ArrayList<>();
            long vmRequests = 0, vmNanos = 0, directLaunches = 0, directNanos = 0;
            for (int r = 1; r <= rounds; r++) {
                VmSide vm = throughVm(w, "vgpupath-" + r, warm, measure);
                DirectRun.Result d;
                try (DeviceEngine e = newEngine()) {
                    DirectRun.run(e, w.launches(), MEMORY, warm);
                    d = DirectRun.run(e, w.launches(), MEMORY, measure);
                }
                double vmRate = vm.rate();
                ratios.add(vmRate / d.rate());
                vmRequests += vm.requests();
                vmNanos += vm.nanos();
                directLaunches += d.launches();
                directNanos += d.wallNanos();
                out.printf(Locale.ROOT, "round %d: VM %d requests in %.3f s = %.1f/s (device time %.1f us each);"
                                + " direct %d launches in %.3f s = %.1f/s; ratio %.4f%n", r, vm.requests(), vm.nanos() / 1e9,
                        vmRate, vm.gpuNanos() / 1e3 / Math.max(1, vm.requests()), d.launches(), d.wallNanos() / 1e9,
                        d.rate(), vmRate / d.rate());
                out.flush();
            }
            double vmRate = vmRequests * 1e9 / vmNanos, directRate = directLaunches * 1e9 / directNanos;
            List<Double> sorted = new ArrayList<>(ratios);
            sorted.sort(null);
            out.printf(Locale.ROOT, "ratio: %.4f over all rounds (VM %.1f/s, direct %.1f/s; median round %.4f, min"
                            + " %.4f, max %.4f)%n", vmRate / directRate, vmRate, directRate, sorted.get(sorted.size() / 2),
                    sorted.get(0), sorted.get(sorted.size() - 1));
            out.flush();
            if (breakdown) {
                long every = Math.max(1, Math.round(vmRate * STATS_EVERY_NANOS / 1e9));
                Breakdown b = breakdown(new GuestWorkload(w.launches(), 1), every, warm, measure);
                b.print(out);
                out.printf(Locale.ROOT, "breakdown: depth-1 ratio %.4f (depth-1 VM %.1f/s, direct %.1f/s)%n",
                        b.rate() / directRate, b.rate(), directRate);
            }
        }
        return 0;
    }

    /** One VM's measured interval: requests its device completed, the interval's length and their device time, ns. */
    private record VmSide(long requests, long nanos, long gpuNanos) {
        double rate() {
            return requests * 1e9 / nanos;
        }
    }

    private VmSide throughVm(GuestWorkload w, String label, long warm, long measure) throws InterruptedException {
        try (PathVm vm = PathVm.start(label, engine, w.append(Long.MAX_VALUE / 2, 0, irq()),
                (line, at) -> { })) {
            VgpuStats s = vm.awaitRequests(GuestWorkload.SETUP_REQUESTS + w.depth() + 1, BOOT_TIMEOUT);
            Thread.sleep(warm / 1_000_000, (int) (warm % 1_000_000));
            s.restart();
            long t0 = System.nanoTime();
            Thread.sleep(measure / 1_000_000, (int) (measure % 1_000_000));
            VgpuStats.Snapshot snap = s.snapshot();
            long t1 = System.nanoTime();
            if (vm.ended()) {
                throw vm.failure("the VM ended during its measurement");
            }
            if (snap.errors() > 0) {
                throw vm.failure(snap.errors() + " of the VM's " + snap.requests() + " requests failed");
            }
            return new VmSide(snap.requests(), t1 - t0, snap.gpuNanos());
        }
    }

    /** The depth-1 VM whose driver times each request; the breakdown between two of its lines. */
    private Breakdown breakdown(GuestWorkload w, long every, long warm, long measure) throws InterruptedException {
        LineRecorder rec = new LineRecorder();
        try (PathVm vm = PathVm.start("vgpupath-breakdown", engine, w.append(Long.MAX_VALUE / 2, every, irq()),
                rec)) {
            rec.vm.set(vm);
            vm.awaitRequests(GuestWorkload.SETUP_REQUESTS + 2, BOOT_TIMEOUT);
            rec.from = System.nanoTime() + warm;
            long deadline = System.nanoTime() + warm + measure + BOOT_TIMEOUT;
            while (true) {
                StatsLine first = rec.first, last = rec.last;
                if (rec.error != null) {
                    throw vm.failure("the guest's stats: " + rec.error.getMessage());
                }
                if (first != null && last != null && last.arrivedNanos() - first.arrivedNanos() >= measure) {
                    return Breakdown.of(first, last);
                }
                if (vm.ended()) {
                    throw vm.failure("the VM ended during its breakdown");
                }
                if (System.nanoTime() - deadline > 0) {
                    throw vm.failure("the guest printed no stats line " + measure / 1_000_000 + " ms after the first");
                }
                Thread.sleep(20);
            }
        }
    }

    private boolean irq() {
        return wait.equals("irq");
    }

    private DeviceEngine newEngine() {
        return switch (engine) {
            case "sim" -> SimulatedEngine.realTime(VgpuHosts.SIM_SWITCH_NANOS);
            case "host" -> new HostEngine();
            default -> CudaEngine.create(0);
        };
    }

    /**
     * Takes the guest's stats lines (on the serial port's output thread): the first that arrives after {@link #from}
     * is the breakdown's start, each later one its end so far, each with what the device remembers of its requests.
     */
    private static final class LineRecorder implements ObjLongConsumer<String> {
        final AtomicReference<PathVm> vm = new AtomicReference<>();
        volatile long from = Long.MAX_VALUE;
        volatile StatsLine first, last;
        volatile RuntimeException error;

        @Override
        public void accept(String line, long at) {
            PathVm v = vm.get();
            if (!line.startsWith(StatsLine.PREFIX) || v == null || at - from < 0 || error != null) {
                return;
            }
            try {
                VgpuStats s = v.stats();
                if (s == null) {
                    return;
                }
                // The loop's P-th request is the device's completion number SETUP_REQUESTS + P - 1; at depth 1 both
                // the kicked and the seen one have completed before the guest prints.
                long base = GuestWorkload.SETUP_REQUESTS - 1;
                StatsLine l = StatsLine.parse(line, at, s.completion(base + StatsLine.field(line, "posted")),
                        s.completion(base + StatsLine.field(line, "n")));
                if (first == null) {
                    first = l;
                } else {
                    last = l;
                }
            } catch (RuntimeException e) {
                error = e; // not thrown into the UART: the measuring thread reports it
            }
        }
    }
}
