package io.isthmus.sched.cli;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.LatencyClass;
import io.isthmus.sched.LeaveMode;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.Durations;
import io.isthmus.sched.engine.TimeSpec;
import io.isthmus.sched.metrics.SchedMetrics;
import io.isthmus.sched.metrics.ShareChart;
import io.isthmus.sched.sim.Simulation;
import io.isthmus.sched.sim.VGpuSpec;
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
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UseDefaultConverter;

/** {@code isthmus sched simulate}: one deterministic run; prints a table, writes a CSV and a PNG of shares over time. */
@Command(name = "simulate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the scheduler on a simulated GPU engine (virtual clock) and report each vGPU's share.",
            "Example: isthmus sched simulate --policy weighted --vgpus 4 --weights 1,2,3,4 --slice 2ms --duration 10s"})
final class SimulateCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = {"-p", "--policy"}, required = true, paramLabel = "POLICY", converter = OptionConverters.PolicyName.class,
            description = "best-effort, equal-share, fixed-share or weighted")
    Policy policy;

    @Option(names = {"-n", "--vgpus"}, defaultValue = "4", description = "vGPUs (default ${DEFAULT-VALUE})")
    int vgpus;

    @Option(names = {"-w", "--weights"}, defaultValue = "1", split = ",", paramLabel = "W",
            description = "weights, 1 to 256: one for all, or one per vGPU, comma-separated (default ${DEFAULT-VALUE})")
    int[] weights;

    @Option(names = {"-s", "--slice"}, defaultValue = "adaptive", paramLabel = "SLICE",
            converter = OptionConverters.Slice.class,
            description = "time slice, 1ms to 30ms, or 'adaptive' (follows --frequency) (default ${DEFAULT-VALUE})")
    long slice;

    @Option(names = "--frequency", defaultValue = "0", paramLabel = "HZ",
            description = "adaptive scheduling frequency, 63 to 960 Hz; 0: 480 Hz up to 8 vGPUs, 960 Hz above")
    int frequency;

    @Option(names = "--averaging-factor", defaultValue = "33", paramLabel = "N",
            description = "slices an overrun is repaid over, 1 to 60 (default ${DEFAULT-VALUE})")
    int averagingFactor;

    @Option(names = "--max-vgpus", defaultValue = "0", paramLabel = "N",
            description = "vGPUs per GPU; fixed share gives each 1/N (default: 16, or --vgpus if more)")
    int maxVGpus;

    @Option(names = "--caps", split = ",", paramLabel = "I=PCT",
            converter = {UseDefaultConverter.class, OptionConverters.Share.class},
            description = "maximum shares, e.g. 0=30%%,2=50%%")
    Map<Integer, Double> caps = new LinkedHashMap<>();

    @Option(names = "--reservations", split = ",", paramLabel = "I=PCT",
            converter = {UseDefaultConverter.class, OptionConverters.Share.class},
            description = "minimum shares, e.g. 1=25%%")
    Map<Integer, Double> reservations = new LinkedHashMap<>();

    @Option(names = "--interactive", split = ",", paramLabel = "I",
            description = "vGPUs in the interactive latency class, comma-separated")
    List<Integer> interactive = new ArrayList<>();

    @Option(names = "--work", defaultValue = "exp:500us", paramLabel = "DIST", converter = OptionConverters.Work.class,
            description = "work-item durations: fixed:T, exp:MEAN or pareto:MEAN[:SHAPE] (default ${DEFAULT-VALUE})")
    Durations work;

    @Option(names = "--load", defaultValue = "backlogged", paramLabel = "LOAD", converter = OptionConverters.Load.class,
            description = "per-vGPU offered load: 'backlogged' (always has work) or a fraction of the engine, e.g."
                    + " 0.3 (Poisson arrivals) (default ${DEFAULT-VALUE})")
    double load;

    @Option(names = "--idle", defaultValue = "0", paramLabel = "K", description = "the last K vGPUs never submit work")
    int idle;

    @Option(names = "--arrive", split = ",", paramLabel = "I@T", converter = OptionConverters.At.class,
            description = "vGPU I joins at time T instead of 0, e.g. 3@2s")
    List<OptionConverters.IndexAt> arrive = new ArrayList<>();

    @Option(names = "--leave", split = ",", paramLabel = "I@T", converter = OptionConverters.At.class,
            description = "vGPU I leaves at time T (its queued work drains), e.g. 1@6s")
    List<OptionConverters.IndexAt> leave = new ArrayList<>();

    @Option(names = "--switch-cost", defaultValue = "25us", paramLabel = "T", converter = OptionConverters.Time.class,
            description = "context-switch cost (default ${DEFAULT-VALUE})")
    long switchCost;

    @Option(names = {"-t", "--duration"}, defaultValue = "10s", paramLabel = "T",
            converter = OptionConverters.Time.class,
            description = "virtual time to simulate: ns, us, ms, s, m or h, e.g. 10s, 2m, 1h (default ${DEFAULT-VALUE})")
    long duration;

    @Option(names = "--window", defaultValue = "100ms", paramLabel = "T", converter = OptionConverters.Time.class,
            description = "window for shares over time and Jain's index (default ${DEFAULT-VALUE})")
    long window;

    @Option(names = "--seed", defaultValue = "1", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--csv", defaultValue = "sched-shares.csv", paramLabel = "FILE",
            description = "per-window shares, CSV (default ${DEFAULT-VALUE})")
    Path csv;

    @Option(names = "--png", defaultValue = "sched-shares.png", paramLabel = "FILE",
            description = "chart of shares over time, PNG (default ${DEFAULT-VALUE})")
    Path png;

    @Option(names = "--progress", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "progress bar on stderr for runs taking over a second (default on)")
    boolean progress;

    @Option(names = {"-d", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        Policy p = policy;
        if (vgpus < 1 || vgpus > SchedulerConfig.MAX_VGPUS) {
            throw new ConfigurationException("--vgpus " + vgpus + " is out of range; use 1 to " + SchedulerConfig.MAX_VGPUS);
        }
        if (idle < 0 || idle > vgpus) {
            throw new ConfigurationException("--idle " + idle + " must be 0 to --vgpus (" + vgpus + ")");
        }
        int max = maxVGpus != 0 ? maxVGpus : Math.max(vgpus, p == Policy.FIXED_SHARE ? 16 : 1);
        if (p == Policy.FIXED_SHARE && vgpus > max) {
            throw new ConfigurationException("--vgpus " + vgpus + " is more than --max-vgpus " + max
                    + "; fixed share gives each of at most max-vgpus vGPUs 1/max-vgpus: raise --max-vgpus");
        }
        SchedulerConfig sc = new SchedulerConfig(p, slice, frequency, averagingFactor, max);
        int[] w = weightsPerVGpu();
        Map<Integer, Double> capMap = indexed("--caps", caps);
        Map<Integer, Double> resMap = indexed("--reservations", reservations);
        Map<Integer, Long> arriveMap = times("--arrive", arrive);
        Map<Integer, Long> leaveMap = times("--leave", leave);
        for (int i : interactive) {
            index("--interactive", i);
        }
        double totalRes = resMap.values().stream().mapToDouble(Double::doubleValue).sum();
        if (totalRes > 1.0 + 1e-9) {
            throw new ConfigurationException(String.format(Locale.ROOT, "--reservations add up to %.1f %%; minimum"
                    + " shares must add up to 100 %% or less", totalRes * 100));
        }
        long dur = positive("--duration", duration);
        long win = positive("--window", window);

        Simulation sim = new Simulation(sc, switchCost, seed, win);
        String[] labels = new String[vgpus];
        for (int i = 0; i < vgpus; i++) {
            VGpuConfig vc;
            try {
                vc = new VGpuConfig(w[i], capMap.getOrDefault(i, 1.0), resMap.getOrDefault(i, 0.0),
                        interactive.contains(i) ? LatencyClass.INTERACTIVE : LatencyClass.NORMAL);
            } catch (ConfigurationException e) {
                throw new ConfigurationException("vGPU " + i + ": " + e.getMessage());
            }
            boolean isIdle = i >= vgpus - idle;
            VGpuSpec s = new VGpuSpec(vc, work, isIdle ? 0 : load, arriveMap.getOrDefault(i, 0L),
                    leaveMap.getOrDefault(i, Long.MAX_VALUE), LeaveMode.DRAIN);
            sim.add(s);
            labels[i] = "vGPU " + i + " (w" + vc.weight() + (isIdle ? ", idle" : "") + ")";
        }

        Progress bar = new Progress(progress, dur);
        long t0 = System.nanoTime();
        SchedMetrics m;
        try {
            m = sim.run(dur, bar::update);
        } finally {
            bar.close();
        }
        double wallS = (System.nanoTime() - t0) / 1e9;

        int[] ids = new int[vgpus];
        for (int i = 0; i < vgpus; i++) {
            ids[i] = sim.vgpuId(i);
        }
        PrintWriter out = spec.commandLine().getOut();
        printTable(out, p, sc, sim, m, ids, w, dur, wallS);
        writeCsv(m, ids);
        ShareChart.write(png, m, ids, labels, "isthmus sched: " + p + ", " + vgpus + " vGPUs, slice "
                + (sc.sliceNanos() == SchedulerConfig.ADAPTIVE ? "adaptive" : TimeSpec.format(sc.sliceNanos())));
        out.printf("wrote %s and %s%n", csv, png);
        return 0;
    }

    private static long positive(String option, long nanos) {
        if (nanos <= 0) {
            throw new ConfigurationException(option + " must be longer than zero, e.g. 10s");
        }
        return nanos;
    }

    private int[] weightsPerVGpu() {
        if (weights.length != 1 && weights.length != vgpus) {
            throw new ConfigurationException("--weights has " + weights.length + " values for " + vgpus
                    + " vGPUs; give one weight for all or one per vGPU");
        }
        int[] w = new int[vgpus];
        for (int i = 0; i < vgpus; i++) {
            w[i] = weights[weights.length == 1 ? 0 : i];
            if (w[i] <= 0 || w[i] > VGpuConfig.MAX_WEIGHT) {
                throw new ConfigurationException("--weights: vGPU " + i + " has weight " + w[i] + "; weights must be"
                        + " 1 to " + VGpuConfig.MAX_WEIGHT);
            }
        }
        return w;
    }

    private <T> Map<Integer, T> indexed(String option, Map<Integer, T> byIndex) {
        for (int i : byIndex.keySet()) {
            index(option, i);
        }
        return byIndex;
    }

    private Map<Integer, Long> times(String option, List<OptionConverters.IndexAt> list) {
        Map<Integer, Long> m = new HashMap<>();
        for (OptionConverters.IndexAt at : list) {
            m.put(index(option, at.index()), at.nanos());
        }
        return m;
    }

    private int index(String option, int i) {
        if (i < 0 || i >= vgpus) {
            throw new ConfigurationException(option + ": vGPU index " + i + " is not 0 to " + (vgpus - 1));
        }
        return i;
    }

    private double target(Policy p, SchedulerConfig sc, int[] w, int i) {
        int active = vgpus - idle;
        boolean isIdle = i >= active;
        if (isIdle) {
            return 0;
        }
        return switch (p) {
            case WEIGHTED -> {
                double sum = 0;
                for (int j = 0; j < active; j++) {
                    sum += w[j];
                }
                yield w[i] / sum;
            }
            case BEST_EFFORT -> 1.0 / active;
            case EQUAL_SHARE -> 1.0 / vgpus;
            case FIXED_SHARE -> 1.0 / sc.maxVGpus();
        };
    }

    private void printTable(PrintWriter out, Policy p, SchedulerConfig sc, Simulation sim, SchedMetrics m, int[] ids,
                            int[] w, long dur, double wallS) {
        out.printf(Locale.ROOT, "policy %s, %d vGPUs, slice %s, %s of virtual time in %.2f s%n", p, vgpus,
                sc.sliceNanos() == SchedulerConfig.ADAPTIVE ? "adaptive " + TimeSpec.format(sc.sliceFor(
                        p == Policy.FIXED_SHARE ? sc.maxVGpus() : vgpus)) : TimeSpec.format(sc.sliceNanos()),
                TimeSpec.format(dur), wallS);
        out.printf("%-5s %6s %6s %6s %8s %8s %8s %10s %10s %10s %8s %9s%n", "vGPU", "weight", "cap", "resv",
                "target%", "share%", "busy%", "wait p50", "wait p99", "wait max", "slices", "items");
        boolean caveat = load == VGpuSpec.BACKLOGGED && caps.isEmpty() && reservations.isEmpty() && arrive.isEmpty()
                && leave.isEmpty();
        for (int i = 0; i < vgpus; i++) {
            int v = ids[i];
            if (v < 0) {
                continue;
            }
            VGpuConfig c = m.config(v);
            long present = Math.min(dur, m.leftAt(v)) - m.joinedAt(v);
            Histogram h = m.waitHistogram(v);
            boolean any = h.getTotalCount() > 0;
            out.printf(Locale.ROOT, "%-5d %6d %6s %6s %8s %8.2f %8.2f %10s %10s %10s %8d %9d%n", i, c.weight(),
                    c.cap() < 1 ? pct(c.cap()) : "-", c.reservation() > 0 ? pct(c.reservation()) : "-",
                    caveat ? String.format(Locale.ROOT, "%.2f", 100 * target(p, sc, w, i)) : "-",
                    100.0 * m.serviceNanos(v) / dur, present > 0 ? 100.0 * m.serviceNanos(v) / present : 0.0,
                    any ? TimeSpec.format(h.getValueAtPercentile(50)) : "-",
                    any ? TimeSpec.format(h.getValueAtPercentile(99)) : "-",
                    any ? TimeSpec.format(h.getMaxValue()) : "-", m.slices(v), m.items(v));
        }
        int active = vgpus - idle;
        int[] act = new int[active];
        System.arraycopy(ids, 0, act, 0, active);
        double minJain = 1;
        for (int k = 0; k < m.windowCount(); k++) {
            minJain = Math.min(minJain, m.windowJain(k, act));
        }
        out.printf(Locale.ROOT, "engine: busy %.2f %%, idle %.2f %%, switching %.2f %% (%d context switches)%n",
                100.0 * sim.scheduler().busyNanos() / dur, 100.0 * m.idleNanos() / dur,
                100.0 * m.switchNanos() / dur, m.contextSwitches());
        out.printf(Locale.ROOT, "Jain's index (service/weight, vGPUs with work): %.4f over the run, %.4f worst %s"
                + " window%n", m.jain(act), minJain, TimeSpec.format(m.windowNanos()));
        out.printf("items: %d submitted, %d completed, %d returned, %d refused (queue full)%n", sim.submitted(),
                sim.completed(), sim.returned(), sim.rejected());
    }

    private static String pct(double f) {
        return String.format(Locale.ROOT, "%.0f%%", f * 100);
    }

    private void writeCsv(SchedMetrics m, int[] ids) throws IOException {
        try (BufferedWriter b = Files.newBufferedWriter(csv)) {
            StringBuilder h = new StringBuilder("window_end_s");
            for (int i = 0; i < ids.length; i++) {
                h.append(",vgpu").append(i).append("_share_pct");
            }
            b.write(h.append('\n').toString());
            for (int k = 0; k < m.windowCount(); k++) {
                StringBuilder r = new StringBuilder(String.format(Locale.ROOT, "%.4f", (k + 1) * m.windowNanos() / 1e9));
                for (int v : ids) {
                    r.append(',').append(v < 0 ? "0" : String.format(Locale.ROOT, "%.3f",
                            100.0 * m.windowService(k, v) / m.windowNanos()));
                }
                b.write(r.append('\n').toString());
            }
        }
    }

    /** A progress bar (me.tongfei:progressbar) on stderr, shown only once a run has taken over a second. */
    private static final class Progress implements AutoCloseable {
        private final boolean enabled;
        private final long total;
        private final long startedAt = System.nanoTime();
        private ProgressBar bar;

        Progress(boolean enabled, long total) {
            this.enabled = enabled;
            this.total = total;
        }

        void update(long reached) {
            if (!enabled) {
                return;
            }
            if (bar == null && System.nanoTime() - startedAt > 1_000_000_000L) {
                bar = new ProgressBarBuilder().setTaskName("simulating").setInitialMax(100)
                        .setStyle(ProgressBarStyle.ASCII).setUnit("%", 1).hideEta()
                        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
            }
            if (bar != null) {
                bar.stepTo(reached * 100 / total);
            }
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }
    }
}
