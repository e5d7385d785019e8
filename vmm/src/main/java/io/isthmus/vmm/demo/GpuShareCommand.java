package io.isthmus.vmm.demo;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.TimeSpec;
import io.isthmus.sched.metrics.ShareChart;
import io.isthmus.sched.run.Launch;
import io.isthmus.sched.run.Targets;
import io.isthmus.vmm.vgpu.VgpuHosts;
import io.isthmus.vmm.vgpu.VgpuStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code isthmus demo gpu-share}: N KVM guests in this process, each running the shipped vGPU guest driver on its own
 * {@code isthmus-vgpu}, all sharing one engine's weighted scheduler ({@link VgpuHosts}); live shares while it runs,
 * then a table (target and achieved share, engine and GPU time, requests, p50/p99 completion latency per VM), a CSV of shares
 * over time and a PNG chart of it, and optionally JSON.
 *
 * <p>Why one process: the VMs' vGPUs must share one scheduler, and in one JVM that is a shared object
 * ({@link VgpuHosts}) with no IPC on the request path: a request goes from the guest's ring to the scheduler's queue
 * with no copy and no system call, which is what near-native throughput needs. One process per VM would need a
 * scheduler service and a shared-memory queue per VM to the same effect, and isolation between the VMMs' address
 * spaces that this demo does not need (every vGPU's device memory and handles are separate in the scheduler already,
 * and a guest reaches nothing of another's: see the hostile-guest tests).
 *
 * <p>A VM's share is its part of the engine time the scheduler charged all the VMs over the measured interval (after
 * every guest has started submitting and a warm-up): what the engine reported each request took, its validation and
 * the hand-over of its completion included (on the simulated engine, the modelled time). The table also shows the
 * kernels' own device time (what a guest sees in its completions).
 */
@Command(name = "gpu-share", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run KVM guests with a vGPU each, sharing one GPU engine by weight, and report each one's share.",
            "Example: isthmus demo gpu-share --vms 4 --weights 1,2,3,4 --engine sim --duration 10s"})
public final class GpuShareCommand implements Callable<Integer> {
    /** The most VMs one demo runs. */
    static final int MAX_VMS = 16;
    /** How long the guests may take to start submitting, ns (the lab's emulated CPU is slow). */
    static final long START_TIMEOUT = 180_000_000_000L;

    @Spec
    CommandSpec spec;

    @Option(names = "--vms", paramLabel = "N", description = "how many VMs, 1 to " + MAX_VMS
            + " (default: one per weight)")
    Integer vms;

    @Option(names = {"-w", "--weights"}, split = ",", paramLabel = "W",
            description = "one weight per VM, 1 to 256 (default 1,2,3,4; with --vms alone, 1,2,...,N)")
    int[] weights;

    @Option(names = {"-e", "--engine"}, defaultValue = "sim", paramLabel = "ENGINE",
            description = "sim (a modelled GPU paced in real time), host (kernels run on a host thread) or cuda"
                    + " (default ${DEFAULT-VALUE})")
    String engine;

    @Option(names = {"-t", "--duration"}, defaultValue = "10s", paramLabel = "T", converter = Time.class,
            description = "measured time, after the guests start and the warm-up (default ${DEFAULT-VALUE})")
    long duration;

    @Option(names = {"-k", "--kernel"}, defaultValue = "spin:5ms", paramLabel = "LIST",
            description = "kernels each guest launches round robin: spin:TIME, saxpy:N (N <= 4096), copy:BYTES"
                    + " (<= 16K), matmul:N (N <= 64); up to 8 (default ${DEFAULT-VALUE})")
    String kernel;

    @Option(names = "--depth", defaultValue = "16", paramLabel = "N",
            description = "requests each guest keeps in flight, 1 to 64 (default ${DEFAULT-VALUE})")
    int depth;

    @Option(names = "--caps", split = ",", paramLabel = "VM=PCT",
            description = "maximum shares by VM number (they are vm1, vm2, ...), e.g. 4=25%%")
    Map<Integer, String> caps = new LinkedHashMap<>();

    @Option(names = "--pause", paramLabel = "VM=FROM-TO",
            description = "stop a VM's vCPUs (as QMP's stop does) from FROM to TO into the measured time, e.g."
                    + " 1=2s-5s, and report what it got after it resumed against its fair share: the scheduler lets"
                    + " an idle VM claw back no more than its lag bound (one slice plus one request)")
    String pause;

    @Option(names = "--memory", defaultValue = "1M", paramLabel = "SIZE",
            description = "each vGPU's device memory (its quota), at least 128K (default ${DEFAULT-VALUE})")
    String memory;

    @Option(names = "--warmup", defaultValue = "1s", paramLabel = "T", converter = Time.class,
            description = "run before measuring (default ${DEFAULT-VALUE})")
    long warmup;

    @Option(names = "--window", defaultValue = "250ms", paramLabel = "T", converter = Time.class,
            description = "window for shares over time in the CSV and chart (default ${DEFAULT-VALUE})")
    long window;

    @Option(names = "--csv", defaultValue = "gpu-share.csv", paramLabel = "FILE",
            description = "each VM's engine time per window, as a percentage of the window, CSV (default ${DEFAULT-VALUE})")
    Path csv;

    @Option(names = "--png", defaultValue = "gpu-share.png", paramLabel = "FILE",
            description = "chart of shares over time, PNG (default ${DEFAULT-VALUE})")
    Path png;

    @Option(names = "--json", paramLabel = "FILE", description = "the results as JSON")
    Path json;

    @Option(names = "--serial-dir", paramLabel = "DIR",
            description = "write each guest's serial output to DIR/vmN.log (default: discarded)")
    Path serialDir;

    @Option(names = "--check", paramLabel = "POINTS",
            description = "exit with status 3 when a VM's share is further than POINTS percentage points from its"
                    + " target, e.g. --check 2 (not with --pause: a paused VM's share is its own doing)")
    Double check;

    @Option(names = "--live", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "live shares while it runs: a line redrawn each second on a terminal, a line a second"
                    + " otherwise (default on)")
    boolean live;

    @Option(names = {"-d", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    private int pauseVm;
    private long pauseFrom, pauseTo;

    /** Parses times as {@code isthmus sched} does: 10s, 250ms, 1.5s. */
    static final class Time implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return TimeSpec.parseNanos(value);
        }
    }

    /** One VM of the run: its settings, its machine, and its vGPU's usage at the start of the measured interval. */
    private record Guest(String name, int weight, int capPercent, DemoVm vm) {}

    @Override
    public Integer call() throws IOException, InterruptedException {
        int n = checkOptions();
        int[] w = weights;
        GuestWorkload workload = GuestWorkload.parse(kernel, depth);
        List<Launch> launches = workload.launches();
        long mem = vgpuMemory();
        PrintWriter out = spec.commandLine().getOut();
        double[] targets = targets(n);
        out.printf(Locale.ROOT, "%d VMs (weights %s%s), engine %s, kernels %s, depth %d, %s measured after a %s"
                + " warm-up%n", n, join(w), caps.isEmpty() ? "" : ", caps " + caps, engine, launches, depth,
                TimeSpec.format(duration), TimeSpec.format(warmup));
        if (serialDir != null) {
            Files.createDirectories(serialDir);
        }
        byte[] guest = DemoVm.vgpuGuest();
        List<Guest> guests = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                String name = "vm" + (i + 1);
                int cap = capOf(i + 1);
                guests.add(new Guest(name, w[i], cap, new DemoVm(name, machineArgs(name, w[i], cap, mem, workload),
                        guest)));
            }
            for (Guest g : guests) {
                g.vm().start();
            }
            waitUntilSubmitting(guests, out);
            Thread.sleep(warmup / 1_000_000);
            Result r = measure(guests, targets, out);
            printTable(out, r);
            writeCsv(r);
            ShareChart.write(png, r.seconds, r.windowPercent, labels(guests), "isthmus demo gpu-share: " + n
                    + " VMs, " + engine + " engine, weights " + join(w));
            if (json != null) {
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), report(r));
            }
            out.printf("wrote %s and %s%s%n", csv, png, json != null ? " and " + json : "");
            for (Guest g : guests) {
                String report = g.vm().report();
                if (!report.isEmpty()) {
                    out.printf("%s reported: %s%n", g.name(), report.replace("\n", "\n  "));
                }
            }
            for (Guest g : guests) {
                if (g.vm().ended()) {
                    throw new DemoMain.DemoException(g.name() + " ended during the run (status " + g.vm().status()
                            + "): " + g.vm().report());
                }
            }
            if (check != null && pause == null && r.worstPoints > check) {
                out.printf(Locale.ROOT, "check failed: %s's share is %.2f points from its target (--check %.2f)%n",
                        r.worstVm, r.worstPoints, check);
                return 3;
            }
            return 0;
        } finally {
            for (Guest g : guests) {
                g.vm().quit();
            }
            for (Guest g : guests) {
                g.vm().close();
            }
        }
    }

    private int checkOptions() {
        if (weights == null) {
            int count = vms == null ? 4 : vms;
            weights = new int[Math.max(0, Math.min(count, MAX_VMS))];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = i + 1;
            }
        }
        int n = vms == null ? weights.length : vms;
        if (n < 1 || n > MAX_VMS) {
            throw new ConfigurationException("--vms " + n + " is out of range; use 1 to " + MAX_VMS);
        }
        if (weights.length != n) {
            throw new ConfigurationException("--weights names " + weights.length + " weights for " + n + " VMs;"
                    + " give one per VM, e.g. --vms 4 --weights 1,2,3,4");
        }
        for (int i = 0; i < n; i++) {
            if (weights[i] < 1 || weights[i] > VGpuConfig.MAX_WEIGHT) {
                throw new ConfigurationException("--weights: vm" + (i + 1) + "'s weight " + weights[i]
                        + " is out of range; use 1 to " + VGpuConfig.MAX_WEIGHT);
            }
        }
        if (!VgpuHosts.ENGINES.contains(engine)) {
            throw new ConfigurationException("--engine '" + engine + "' is not an engine; use sim, host or cuda");
        }
        if (duration <= 0 || window <= 0 || warmup < 0) {
            throw new ConfigurationException("--duration and --window must be longer than zero and --warmup not"
                    + " negative, e.g. --duration 10s");
        }
        if (pause != null) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)=([^-]+)-(.+)").matcher(pause.strip());
            if (!m.matches()) {
                throw new ConfigurationException("--pause " + pause + ": write VM=FROM-TO, e.g. --pause 1=2s-5s");
            }
            pauseVm = Integer.parseInt(m.group(1));
            pauseFrom = TimeSpec.parseNanos(m.group(2));
            pauseTo = TimeSpec.parseNanos(m.group(3));
            if (pauseVm < 1 || pauseVm > n || pauseFrom < 0 || pauseTo <= pauseFrom || pauseTo >= duration) {
                throw new ConfigurationException("--pause " + pause + ": the VM must be 1 to " + n + " and the"
                        + " times 0 <= FROM < TO < --duration (" + TimeSpec.format(duration) + ")");
            }
        }
        for (int vm : caps.keySet()) {
            if (vm < 1 || vm > n) {
                throw new ConfigurationException("--caps: VM " + vm + " is not 1 to " + n + " (VMs are numbered as"
                        + " vm1, vm2, ...)");
            }
        }
        return n;
    }

    private int capOf(int vm) {
        String c = caps.get(vm);
        if (c == null) {
            return 100;
        }
        String v = c.strip().endsWith("%") ? c.strip().substring(0, c.strip().length() - 1) : c.strip();
        try {
            int p = Integer.parseInt(v);
            if (p >= 1 && p <= 100) {
                return p;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new ConfigurationException("--caps " + vm + "=" + c + ": a cap is a whole percentage, 1% to 100%,"
                + " e.g. --caps " + vm + "=25%");
    }

    private long vgpuMemory() {
        long m = io.isthmus.vmm.config.QemuOpts.parseSize(memory, 1L << 20);
        if (m < 128 << 10 || m > 1L << 40) {
            throw new ConfigurationException("--memory " + memory + ": use 128K to 1T (the guest allocates seven"
                    + " 16 KiB buffers), e.g. --memory 1M");
        }
        return m;
    }

    private List<String> machineArgs(String name, int weight, int cap, long mem, GuestWorkload workload) {
        List<String> a = new ArrayList<>(List.of("-M", "microvm", "-m", "64M", "-display", "none", "-name", name,
                "-serial", serialDir == null ? "null" : "file:" + serialDir.resolve(name + ".log"),
                "-kernel", "isthmus-vgpu-guest",
                // More requests than the run can complete: the guest never finishes; the demo quits it.
                "-append", workload.append(Long.MAX_VALUE, 0, true),
                "-device", "isthmus-vgpu,id=" + name + ",weight=" + weight + ",memory=" + mem + "B,engine=" + engine
                        + (cap < 100 ? ",cap=" + cap : ""),
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4"));
        return a;
    }

    private double[] targets(int n) {
        List<VGpuConfig> c = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            c.add(VGpuConfig.weighted(weights[i]).withCap(capOf(i + 1) / 100.0));
        }
        return Targets.of(SchedulerConfig.of(Policy.WEIGHTED, n), c);
    }

    private Map<String, VgpuHosts.Usage> usage(List<Guest> guests) {
        Map<String, VgpuHosts.Usage> m = new HashMap<>();
        for (VgpuHosts.Usage u : VgpuHosts.usage(engine)) {
            m.put(u.label(), u);
        }
        for (Guest g : guests) {
            if (g.vm().ended()) {
                throw new DemoMain.DemoException(g.name() + " ended (status " + g.vm().status() + ")"
                        + (g.vm().report().isEmpty() ? "" : ": " + g.vm().report()));
            }
        }
        return m;
    }

    private void waitUntilSubmitting(List<Guest> guests, PrintWriter out) throws InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT;
        while (true) {
            Map<String, VgpuHosts.Usage> u = usage(guests);
            long ready = guests.stream().filter(g -> u.containsKey(g.name()) && u.get(g.name()).requests() > 0)
                    .count();
            if (ready == guests.size()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new DemoMain.DemoException("after " + START_TIMEOUT / 1_000_000_000L + " s only " + ready
                        + " of " + guests.size() + " guests had submitted to their vGPU");
            }
            Thread.sleep(50);
        }
    }

    /** What one run measured. */
    private static final class Result {
        final List<Guest> guests;
        final double[] targets, shares, use, errors;
        final boolean[] capped;
        final long[] service, charged;
        final VgpuStats.Snapshot[] stats;
        final long measuredNanos;
        final double[] seconds;
        final double[][] windowPercent;
        double worstPoints;
        String worstVm;

        /**
         * A VM whose cap binds (its weight's share would be more) is judged by its cap, against the measured time:
         * a cap is a fraction of the GPU's time, used or not. The others split what the capped ones left by weight,
         * so their targets are their weights' part of that.
         */
        Result(List<Guest> guests, double[] fullTargets, long[] service, long[] charged, VgpuStats.Snapshot[] stats,
               long measuredNanos, double[] seconds, double[][] windowPercent) {
            this.guests = guests;
            this.service = service;
            this.charged = charged;
            this.stats = stats;
            this.measuredNanos = measuredNanos;
            this.seconds = seconds;
            this.windowPercent = windowPercent;
            int n = service.length;
            long total = 0;
            for (long c : charged) {
                total += c;
            }
            shares = new double[n];
            use = new double[n];
            capped = new boolean[n];
            targets = new double[n];
            errors = new double[n];
            double cappedShare = 0, freeWeight = 0;
            for (int i = 0; i < n; i++) {
                shares[i] = total == 0 ? 0 : (double) charged[i] / total;
                use[i] = (double) charged[i] / measuredNanos;
                int cap = guests.get(i).capPercent();
                capped[i] = cap < 100 && fullTargets[i] >= cap / 100.0 - 1e-9;
                if (capped[i]) {
                    cappedShare += shares[i];
                } else {
                    freeWeight += guests.get(i).weight();
                }
            }
            for (int i = 0; i < n; i++) {
                if (capped[i]) {
                    targets[i] = guests.get(i).capPercent() / 100.0;
                    errors[i] = 100 * (use[i] - targets[i]);
                } else {
                    targets[i] = (1 - cappedShare) * guests.get(i).weight() / freeWeight;
                    errors[i] = 100 * (shares[i] - targets[i]);
                }
                // Under its cap is no error for a capped VM.
                double points = capped[i] ? Math.max(0, errors[i]) : Math.abs(errors[i]);
                if (worstVm == null || points > worstPoints) {
                    worstPoints = points;
                    worstVm = guests.get(i).name();
                }
            }
        }

        /** The paused VM, its engine time after it resumed, and its fair part of everyone's since; or -1. */
        int pausedVm = -1;
        long pausedGot, pausedFair;

        void afterPause(int vm, long[] atResume, long[] atEnd) {
            long all = 0, weights = 0;
            for (int i = 0; i < atEnd.length; i++) {
                all += atEnd[i] - atResume[i];
                weights += guests.get(i).weight();
            }
            pausedVm = vm;
            pausedGot = atEnd[vm] - atResume[vm];
            pausedFair = all * guests.get(vm).weight() / weights;
        }

        long totalService() {
            long t = 0;
            for (long s : service) {
                t += s;
            }
            return t;
        }
    }

    private Result measure(List<Guest> guests, double[] targets, PrintWriter out) throws InterruptedException {
        int n = guests.size();
        Map<String, VgpuHosts.Usage> first = usage(guests);
        VgpuStats[] stats = new VgpuStats[n];
        // gpu[i]: the engine time charged to VM i since the measured interval began (what shares are reckoned in)
        long[] start = new long[n], chargedAt0 = new long[n], last = new long[n], gpu = new long[n];
        for (int i = 0; i < n; i++) {
            VgpuHosts.Usage u = first.get(guests.get(i).name());
            stats[i] = u.stats();
            stats[i].restart();
            start[i] = u.serviceNanos();
            chargedAt0[i] = u.chargedNanos();
        }
        LiveLine view = new LiveLine(live, out, guests.stream().map(Guest::name).toList(), targets);
        List<double[]> rows = new ArrayList<>();
        List<Double> times = new ArrayList<>();
        long t0 = System.nanoTime(), end = t0 + duration, nextWindow = t0 + window, nextLive = t0 + 1_000_000_000L;
        long[] now = new long[n], atResume = null;
        int paused = pauseVm - 1; // -1: none
        boolean stopped = false;
        while (true) {
            long wake = Math.min(Math.min(nextWindow, nextLive), end);
            if (paused >= 0) {
                wake = Math.min(wake, t0 + (stopped ? pauseTo : atResume == null ? pauseFrom : duration));
            }
            long sleep = wake - System.nanoTime();
            if (sleep > 0) {
                Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
            }
            Map<String, VgpuHosts.Usage> u = usage(guests);
            long t = System.nanoTime();
            for (int i = 0; i < n; i++) {
                VgpuHosts.Usage x = u.get(guests.get(i).name());
                if (x == null) {
                    throw new DemoMain.DemoException(guests.get(i).name() + "'s vGPU was reset by its guest during"
                            + " the run");
                }
                now[i] = x.serviceNanos();
                gpu[i] = x.chargedNanos() - chargedAt0[i];
            }
            if (paused >= 0 && !stopped && atResume == null && t - (t0 + pauseFrom) >= 0) {
                guests.get(paused).vm().pause();
                stopped = true;
                out.printf(Locale.ROOT, "%5.1fs  %s paused%n", (t - t0) / 1e9, guests.get(paused).name());
            } else if (stopped && t - (t0 + pauseTo) >= 0) {
                guests.get(paused).vm().resume();
                stopped = false;
                atResume = gpu.clone();
                out.printf(Locale.ROOT, "%5.1fs  %s resumed%n", (t - t0) / 1e9, guests.get(paused).name());
            }
            if (t - nextWindow >= 0 || t - end >= 0) {
                double[] row = new double[n];
                double span = window;
                for (int i = 0; i < n; i++) {
                    row[i] = 100.0 * (gpu[i] - last[i]) / span;
                    last[i] = gpu[i];
                }
                rows.add(row);
                times.add((t - t0) / 1e9);
                nextWindow += window;
            }
            if (t - nextLive >= 0) {
                view.show((t - t0) / 1e9, gpu);
                nextLive += 1_000_000_000L;
            }
            if (t - end >= 0) {
                long[] service = new long[n];
                VgpuStats.Snapshot[] snaps = new VgpuStats.Snapshot[n];
                for (int i = 0; i < n; i++) {
                    service[i] = now[i] - start[i];
                    snaps[i] = stats[i].snapshot();
                }
                view.close();
                double[] x = new double[times.size()];
                double[][] y = new double[n][times.size()];
                for (int k = 0; k < x.length; k++) {
                    x[k] = times.get(k);
                    for (int i = 0; i < n; i++) {
                        y[i][k] = rows.get(k)[i];
                    }
                }
                Result r = new Result(guests, targets, service, gpu.clone(), snaps, t - t0, x, y);
                if (atResume != null) {
                    r.afterPause(paused, atResume, gpu);
                }
                return r;
            }
        }
    }

    private void printTable(PrintWriter out, Result r) {
        out.printf("%-5s %6s %5s %8s %8s %8s %9s %11s %10s %9s %10s %10s %7s%n", "vm", "weight", "cap", "target%",
                "share%", "of time%", "error pts", "engine time", "gpu time", "requests", "p50", "p99", "errors");
        for (int i = 0; i < r.guests.size(); i++) {
            Guest g = r.guests.get(i);
            VgpuStats.Snapshot s = r.stats[i];
            out.printf(Locale.ROOT, "%-5s %6d %5s %8.2f %8.2f %8.2f %+9.2f %11s %10s %9d %10s %10s %7d%n", g.name(),
                    g.weight(), g.capPercent() < 100 ? g.capPercent() + "%" : "-", 100 * r.targets[i],
                    100 * r.shares[i], 100 * r.use[i], r.errors[i], TimeSpec.format(r.charged[i]),
                    TimeSpec.format(s.gpuNanos()), s.requests(), TimeSpec.format(s.p50Nanos()),
                    TimeSpec.format(s.p99Nanos()), s.errors());
        }
        long gpu = 0, charged = 0;
        for (int i = 0; i < r.stats.length; i++) {
            gpu += r.stats[i].gpuNanos();
            charged += r.charged[i];
        }
        out.printf(Locale.ROOT, "engine %s: busy %.2f %% of %s (the kernels themselves %.2f %%); shares are of the"
                + " engine time the scheduler charged each VM (a capped VM's target is its cap of the measured time:"
                + " 'of time'); the furthest from its target: %s, %.2f points%n", engine,
                100.0 * charged / r.measuredNanos, TimeSpec.format(r.measuredNanos), 100.0 * gpu / r.measuredNanos,
                r.worstVm, r.worstPoints);
        if (r.pausedVm >= 0) {
            long beyond = r.pausedGot - r.pausedFair;
            out.printf(Locale.ROOT, "%s, paused %s to %s: after it resumed it got %s of engine time against a fair %s"
                    + " (%s%s beyond; the lag bound is one slice, at most %s, plus one request)%n",
                    r.guests.get(r.pausedVm).name(), TimeSpec.format(pauseFrom), TimeSpec.format(pauseTo),
                    TimeSpec.format(r.pausedGot), TimeSpec.format(r.pausedFair), beyond < 0 ? "-" : "",
                    TimeSpec.format(Math.abs(beyond)), TimeSpec.format(SchedulerConfig.MAX_SLICE_NANOS));
        }
        double q = 0, e = 0, d = 0, c = 0;
        for (VgpuStats.Snapshot s : r.stats) {
            q += s.queuedNanos() * s.requests();
            e += s.engineNanos() * s.requests();
            d += s.deliverNanos() * s.requests();
            c += s.requests();
        }
        if (c > 0) {
            out.printf(Locale.ROOT, "per request, taken off its ring to its completion on the used ring: queued %s"
                    + " (its VM's earlier requests, other VMs' slices), on the engine %s, delivered %s%n",
                    TimeSpec.format((long) (q / c)), TimeSpec.format((long) (e / c)), TimeSpec.format((long) (d / c)));
        }
    }

    private void writeCsv(Result r) throws IOException {
        try (BufferedWriter b = Files.newBufferedWriter(csv)) {
            StringBuilder h = new StringBuilder("time_s");
            for (Guest g : r.guests) {
                h.append(',').append(g.name()).append("_share_pct");
            }
            b.write(h.append('\n').toString());
            for (int k = 0; k < r.seconds.length; k++) {
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%.3f", r.seconds[k]));
                for (int i = 0; i < r.guests.size(); i++) {
                    row.append(String.format(Locale.ROOT, ",%.3f", r.windowPercent[i][k]));
                }
                b.write(row.append('\n').toString());
            }
        }
    }

    private Map<String, Object> report(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("engine", engine);
        m.put("kernels", kernel);
        m.put("depth", depth);
        m.put("measured_ns", r.measuredNanos);
        m.put("engine_wall_ns", r.totalService());
        long charged = 0;
        for (long c : r.charged) {
            charged += c;
        }
        m.put("engine_charged_ns", charged);
        List<Map<String, Object>> vms = new ArrayList<>();
        for (int i = 0; i < r.guests.size(); i++) {
            Guest g = r.guests.get(i);
            VgpuStats.Snapshot s = r.stats[i];
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("vm", g.name());
            v.put("weight", g.weight());
            v.put("cap_pct", g.capPercent());
            v.put("target", r.targets[i]);
            v.put("share", r.shares[i]);
            v.put("of_time", r.use[i]);
            v.put("capped", r.capped[i]);
            v.put("error_points", r.errors[i]);
            v.put("engine_wall_ns", r.service[i]);
            v.put("engine_ns", r.charged[i]);
            v.put("gpu_ns", s.gpuNanos());
            v.put("requests", s.requests());
            v.put("errors", s.errors());
            v.put("p50_ns", s.p50Nanos());
            v.put("p99_ns", s.p99Nanos());
            v.put("queued_ns_mean", s.queuedNanos());
            v.put("engine_ns_mean", s.engineNanos());
            v.put("deliver_ns_mean", s.deliverNanos());
            v.put("engine_ns_longest", s.longestEngineNanos());
            vms.add(v);
        }
        m.put("vms", vms);
        if (r.pausedVm >= 0) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("vm", r.guests.get(r.pausedVm).name());
            p.put("from_ns", pauseFrom);
            p.put("to_ns", pauseTo);
            p.put("engine_ns_after_resume", r.pausedGot);
            p.put("fair_engine_ns_after_resume", r.pausedFair);
            p.put("lag_bound_slice_ns", SchedulerConfig.MAX_SLICE_NANOS);
            m.put("pause", p);
        }
        m.put("worst_vm", r.worstVm);
        m.put("worst_points", r.worstPoints);
        return m;
    }

    private static String[] labels(List<Guest> guests) {
        String[] l = new String[guests.size()];
        for (int i = 0; i < l.length; i++) {
            Guest g = guests.get(i);
            l[i] = g.name() + " (w" + g.weight() + (g.capPercent() < 100 ? ", cap " + g.capPercent() + "%" : "")
                    + ")";
        }
        return l;
    }

    private static String join(int[] w) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < w.length; i++) {
            b.append(i == 0 ? "" : ",").append(w[i]);
        }
        return b.toString();
    }

    /**
     * Live shares of the engine time since the measured interval began: on a terminal one line redrawn in place each
     * second, otherwise a plain line a second. A terminal is this JVM's console, or one the launcher reports ({@code ISTHMUS_TERMINAL},
     * set when the demo runs in the lab guest, whose streams are pipes to a terminal here).
     */
    private static final class LiveLine {
        private final boolean enabled, terminal;
        private final PrintWriter out;
        private final List<String> names;
        private final double[] targets;
        private boolean drawn;

        LiveLine(boolean enabled, PrintWriter out, List<String> names, double[] targets) {
            this.enabled = enabled;
            this.terminal = (System.console() != null && System.console().isTerminal())
                    || "1".equals(System.getenv("ISTHMUS_TERMINAL"));
            this.out = out;
            this.names = names;
            this.targets = targets;
        }

        void show(double seconds, long[] gpu) {
            if (!enabled) {
                return;
            }
            long total = 0;
            for (long g : gpu) {
                total += g;
            }
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%5.1fs", seconds));
            for (int i = 0; i < gpu.length; i++) {
                double share = total == 0 ? 0 : 100.0 * gpu[i] / total;
                line.append(String.format(Locale.ROOT, "  %s %5.2f%% (%.0f%%)", names.get(i), share,
                        100 * targets[i]));
            }
            if (terminal) {
                out.print("\r" + line + "\u001b[K");
                out.flush();
                drawn = true;
            } else {
                out.println(line);
            }
        }

        void close() {
            if (drawn) {
                out.println();
            }
        }
    }
}
