package io.isthmus.sched.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.TimeSpec;
import io.isthmus.sched.metrics.ShareChart;
import io.isthmus.sched.run.DirectRun;
import io.isthmus.sched.run.Launch;
import io.isthmus.sched.run.Tenant;
import io.isthmus.sched.run.TenantResult;
import io.isthmus.sched.run.TenantRun;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.InteractiveConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UseDefaultConverter;

/**
 * {@code isthmus sched run}: host tenants (one thread each, no VMs) kept backlogged through the vGPU path on a
 * simulated, host or CUDA engine; live shares while it runs, then a table, a CSV and a PNG of shares over time, and
 * optionally JSON. {@code --compare-direct} also measures one tenant's throughput against the same launches made
 * straight on the engine, alternating the two.
 */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run host tenants through the vGPU path (requests, scheduler, engine) and report each one's share.",
            "Example: isthmus sched run --engine host --weights 1,2,3,4 --duration 10s --kernel mix"})
final class RunCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = {"-e", "--engine"}, defaultValue = "host", paramLabel = "ENGINE",
            description = "sim (virtual clock), host (kernels run on a host thread) or cuda (default ${DEFAULT-VALUE})")
    String engine;

    @Option(names = {"-w", "--weights"}, defaultValue = "1,2,3,4", split = ",", paramLabel = "W",
            description = "one weight per tenant, 1 to 256 (default ${DEFAULT-VALUE})")
    int[] weights;

    @Option(names = {"-t", "--duration"}, defaultValue = "10s", paramLabel = "T", converter = OptionConverters.Time.class,
            description = "measured time, after setup (default ${DEFAULT-VALUE})")
    long duration;

    @Option(names = {"-k", "--kernel"}, defaultValue = "mix", paramLabel = "LIST",
            description = "launches each tenant cycles through: mix (= " + Launch.MIX + "), or a list of spin:TIME,"
                    + " saxpy:ELEMENTS, copy:BYTES, matmul:N (default ${DEFAULT-VALUE})")
    String kernel;

    @Option(names = "--kernel-per-tenant", split = ";", paramLabel = "I=LIST",
            description = "tenant I's own launches instead of --kernel, e.g. '0=spin:20ms;1=spin:200us'")
    Map<Integer, String> perTenant = new LinkedHashMap<>();

    @Option(names = {"-p", "--policy"}, defaultValue = "weighted", paramLabel = "POLICY",
            converter = OptionConverters.PolicyName.class,
            description = "best-effort, equal-share, fixed-share or weighted (default ${DEFAULT-VALUE})")
    Policy policy;

    @Option(names = {"-s", "--slice"}, defaultValue = "adaptive", paramLabel = "SLICE",
            converter = OptionConverters.Slice.class, description = "time slice, 1ms to 30ms, or adaptive (default)")
    long slice;

    @Option(names = "--caps", split = ",", paramLabel = "I=PCT",
            converter = {UseDefaultConverter.class, OptionConverters.Share.class},
            description = "maximum shares, e.g. 0=20%%")
    Map<Integer, Double> caps = new LinkedHashMap<>();

    @Option(names = "--memory", defaultValue = "64M", paramLabel = "SIZE",
            description = "device memory per tenant (its quota), K/M/G (default ${DEFAULT-VALUE})")
    String memory;

    @Option(names = "--depth", defaultValue = "32", paramLabel = "N",
            description = "launches each tenant keeps in flight, 1 to 200 (default ${DEFAULT-VALUE})")
    int depth;

    @Option(names = "--switch-cost", defaultValue = "25us", paramLabel = "T", converter = OptionConverters.Time.class,
            description = "the simulated engine's context-switch cost (default ${DEFAULT-VALUE})")
    long switchCost;

    @Option(names = "--compare-direct", paramLabel = "ROUNDS", arity = "0..1", fallbackValue = "5", defaultValue = "0",
            description = "also compare one tenant's throughput through the path with the same launches straight on the"
                    + " engine: ROUNDS alternating pairs of duration/ROUNDS each (default 5 when given)")
    int compareRounds;

    @Option(names = "--window", defaultValue = "100ms", paramLabel = "T", converter = OptionConverters.Time.class,
            description = "window for shares over time (default ${DEFAULT-VALUE})")
    long window;

    @Option(names = "--csv", defaultValue = "sched-run.csv", paramLabel = "FILE",
            description = "per-window shares, CSV (default ${DEFAULT-VALUE})")
    Path csv;

    @Option(names = "--png", defaultValue = "sched-run.png", paramLabel = "FILE",
            description = "chart of shares over time, PNG (default ${DEFAULT-VALUE})")
    Path png;

    @Option(names = "--json", paramLabel = "FILE", description = "the results as JSON")
    Path json;

    @Option(names = "--live", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "live shares while it runs: bars on a terminal, a line a second otherwise (default on)")
    boolean live;

    @Option(names = {"-d", "--verbose"}, description = "stack traces on errors")
    boolean verbose;

    @Override
    public Integer call() throws IOException, InterruptedException {
        List<Launch> mix = Launch.parseList(kernel);
        if (weights.length < 1 || weights.length > 64) {
            throw new ConfigurationException("--weights names " + weights.length + " tenants; use 1 to 64");
        }
        if (depth < 1 || depth > 200) {
            throw new ConfigurationException("--depth " + depth + " is out of range; use 1 to 200 (the submission queue holds 256)");
        }
        if (duration <= 0 || window <= 0) {
            throw new ConfigurationException("--duration and --window must be longer than zero, e.g. 10s");
        }
        long mem = Sizes.parse("--memory", memory);
        List<VGpuConfig> vgpus = new ArrayList<>();
        for (int i = 0; i < weights.length; i++) {
            try {
                vgpus.add(VGpuConfig.weighted(weights[i]).withCap(caps.getOrDefault(i, 1.0)));
            } catch (ConfigurationException e) {
                throw new ConfigurationException("tenant " + i + ": " + e.getMessage());
            }
        }
        for (int i : caps.keySet()) {
            if (i < 0 || i >= weights.length) {
                throw new ConfigurationException("--caps: tenant index " + i + " is not 0 to " + (weights.length - 1));
            }
        }
        int max = Math.max(weights.length, policy == Policy.FIXED_SHARE ? 16 : 1);
        SchedulerConfig sc = new SchedulerConfig(policy, slice, 0, SchedulerConfig.DEFAULT_AVERAGING_FACTOR, max);
        PrintWriter out = spec.commandLine().getOut();
        try (DeviceEngine e = Engines.create(engine, switchCost)) {
            out.printf(Locale.ROOT, "engine %s, policy %s, %d tenants (weights %s), launches %s, depth %d, %s measured%n",
                    e.name(), policy, weights.length, join(weights), mix, depth, TimeSpec.format(duration));
            List<List<Launch>> mixes = new ArrayList<>();
            for (int i = 0; i < weights.length; i++) {
                mixes.add(perTenant.containsKey(i) ? Launch.parseList(perTenant.get(i)) : mix);
            }
            for (int i : perTenant.keySet()) {
                if (i < 0 || i >= weights.length) {
                    throw new ConfigurationException("--kernel-per-tenant: tenant index " + i + " is not 0 to "
                            + (weights.length - 1));
                }
            }
            TenantRun run = new TenantRun(e, sc, vgpus, mem, mixes, depth, window, true);
            LiveView view = new LiveView(live, weights, duration, out);
            TenantRun.Result r;
            try {
                r = run.run(duration, view::update, 1_000_000_000L);
            } finally {
                view.close();
            }
            printTable(out, e, r);
            Map<String, Object> report = report(e, sc, mix, r);
            if (compareRounds > 0) {
                report.put("compare_direct", compare(out, e, mix, mem));
            }
            writeCsv(r);
            int[] ids = new int[weights.length];
            String[] labels = new String[weights.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.detail().get(i).context().id();
                labels[i] = "tenant " + i + " (w" + weights[i] + (caps.containsKey(i) ? ", cap" : "") + ")";
            }
            ShareChart.write(png, r.metrics(), ids, labels, "isthmus sched run: " + e.name() + " engine, " + policy
                    + ", weights " + join(weights));
            if (json != null) {
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), report);
            }
            out.printf("wrote %s and %s%s%n", csv, png, json != null ? " and " + json : "");
            long errors = r.tenants().stream().mapToLong(TenantResult::errors).sum();
            return errors == 0 ? 0 : 1;
        }
    }

    private static String join(int[] w) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < w.length; i++) {
            b.append(i == 0 ? "" : ",").append(w[i]);
        }
        return b.toString();
    }

    private void printTable(PrintWriter out, DeviceEngine e, TenantRun.Result r) {
        out.printf("%-6s %6s %5s %8s %8s %8s %10s %10s %9s %10s %10s %8s%n", "tenant", "weight", "cap", "target%",
                "share%", "error%", "engine", "gpu time", "launches", "p50", "p99", "errors");
        for (TenantResult t : r.tenants()) {
            out.printf(Locale.ROOT, "%-6d %6d %5s %8.2f %8.2f %+8.2f %10s %10s %9d %10s %10s %8d%n", t.index(), t.weight(),
                    t.cap() < 1 ? String.format(Locale.ROOT, "%.0f%%", t.cap() * 100) : "-", 100 * t.target(),
                    100 * t.share(), t.target() == 0 ? 0 : 100 * (t.share() - t.target()) / t.target(),
                    TimeSpec.format(t.engineNanos()), TimeSpec.format(t.gpuNanos()), t.launches(),
                    TimeSpec.format(t.p50Nanos()), TimeSpec.format(t.p99Nanos()), t.errors());
            if (t.firstError() != null) {
                out.printf("  tenant %d: first error: %s%n", t.index(), t.firstError());
            }
        }
        long busy = r.engineNanos();
        out.printf(Locale.ROOT, "engine: %d launches, busy %.2f %% of %s, %d context switches (%s switching)%n",
                r.totalLaunches(), 100.0 * busy / r.measuredNanos(), TimeSpec.format(r.measuredNanos()),
                r.contextSwitches(), TimeSpec.format(r.switchNanos()));
        if (!e.name().equals("sim")) {
            double q = 0, o = 0, d = 0, n = 0;
            for (TenantResult t : r.tenants()) {
                q += t.queueNanos() * t.launches();
                o += t.engineOverheadNanos() * t.launches();
                d += t.deliverNanos() * t.launches();
                n += t.launches();
            }
            if (n > 0) {
                out.printf(Locale.ROOT, "per launch, beyond its device time: queued %s (behind the tenant's other"
                        + " launches and others' slices), engine path %s (validation, dispatch, timing), hand-over to"
                        + " the tenant %s%n", TimeSpec.format((long) (q / n)), TimeSpec.format((long) (o / n)),
                        TimeSpec.format((long) (d / n)));
            }
        }
    }

    private Map<String, Object> report(DeviceEngine e, SchedulerConfig sc, List<Launch> mix, TenantRun.Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("engine", e.name());
        m.put("policy", sc.policy().toString());
        m.put("launches", mix.toString());
        m.put("depth", depth);
        m.put("measured_ns", r.measuredNanos());
        m.put("context_switches", r.contextSwitches());
        m.put("tenants", r.tenants());
        List<double[]> windows = new ArrayList<>();
        for (int k = 0; k < r.metrics().windowCount(); k++) {
            double[] row = new double[weights.length];
            for (int i = 0; i < row.length; i++) {
                row[i] = 100.0 * r.metrics().windowService(k, r.detail().get(i).context().id()) / window;
            }
            windows.add(row);
        }
        m.put("window_ns", window);
        m.put("window_share_pct", windows);
        return m;
    }

    private Map<String, Object> compare(PrintWriter out, DeviceEngine e, List<Launch> mix, long mem)
            throws InterruptedException {
        long each = Math.max(100_000_000L, duration / compareRounds);
        SchedulerConfig sc = new SchedulerConfig(policy, slice, 0, SchedulerConfig.DEFAULT_AVERAGING_FACTOR, 1);
        List<Double> ratios = new ArrayList<>();
        long directLaunches = 0, pathLaunches = 0;
        double directNanos = 0, pathNanos = 0;
        for (int round = 0; round < compareRounds; round++) {
            DirectRun.Result d = DirectRun.run(e, mix, mem, each);
            TenantRun.Result p = new TenantRun(e, sc, List.of(VGpuConfig.weighted(1)), mem, mix, depth, window)
                    .run(each, null, Long.MAX_VALUE);
            double pathRate = p.totalLaunches() * 1e9 / p.measuredNanos();
            ratios.add(pathRate / d.rate());
            directLaunches += d.launches();
            directNanos += d.wallNanos();
            pathLaunches += p.totalLaunches();
            pathNanos += p.measuredNanos();
            out.printf(Locale.ROOT, "compare round %d: direct %.1f launches/s, through the vGPU path %.1f: %.4f%n",
                    round + 1, d.rate(), pathRate, pathRate / d.rate());
        }
        double total = (pathLaunches / pathNanos) / (directLaunches / directNanos);
        List<Double> sorted = new ArrayList<>(ratios);
        sorted.sort(null);
        double median = sorted.get(sorted.size() / 2);
        out.printf(Locale.ROOT, "one tenant through the path / straight on the engine: %.4f over all rounds (median round"
                + " %.4f, min %.4f, max %.4f)%n", total, median, sorted.get(0), sorted.get(sorted.size() - 1));
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("round_ns", each);
        m.put("ratios", ratios);
        m.put("ratio_total", total);
        m.put("ratio_median", median);
        m.put("direct_launches", directLaunches);
        m.put("path_launches", pathLaunches);
        return m;
    }

    private void writeCsv(TenantRun.Result r) throws IOException {
        try (BufferedWriter b = Files.newBufferedWriter(csv)) {
            StringBuilder h = new StringBuilder("window_end_s");
            for (int i = 0; i < weights.length; i++) {
                h.append(",tenant").append(i).append("_share_pct");
            }
            b.write(h.append('\n').toString());
            for (int k = 0; k < r.metrics().windowCount(); k++) {
                StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%.4f", (k + 1) * window / 1e9));
                for (Tenant t : r.detail()) {
                    row.append(',').append(String.format(Locale.ROOT, "%.3f",
                            100.0 * r.metrics().windowService(k, t.context().id()) / window));
                }
                b.write(row.append('\n').toString());
            }
        }
    }

    /** Live shares: one progress bar per tenant on a terminal, a plain line a second otherwise. */
    private static final class LiveView implements AutoCloseable {
        private final boolean enabled, terminal;
        private final int[] weights;
        private final long duration;
        private final PrintWriter out;
        private final List<ProgressBar> bars = new ArrayList<>();
        private final long started = System.nanoTime();

        LiveView(boolean enabled, int[] weights, long duration, PrintWriter out) {
            this.enabled = enabled;
            this.terminal = System.console() != null && System.console().isTerminal();
            this.weights = weights;
            this.duration = duration;
            this.out = out;
        }

        void update(List<Tenant> tenants) {
            if (!enabled) {
                return;
            }
            long total = 0;
            for (Tenant t : tenants) {
                total += t.engineNanos();
            }
            if (terminal && bars.isEmpty()) {
                for (int i = 0; i < tenants.size(); i++) {
                    bars.add(new ProgressBarBuilder().setTaskName(String.format(Locale.ROOT, "tenant %d w%d", i,
                            weights[i])).setInitialMax(1000).setStyle(ProgressBarStyle.ASCII).setUnit("%", 10)
                            .hideEta().setConsumer(new InteractiveConsoleProgressBarConsumer(System.err)).build());
                }
            }
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%5.1fs", (System.nanoTime() - started) / 1e9));
            for (int i = 0; i < tenants.size(); i++) {
                double share = total == 0 ? 0 : (double) tenants.get(i).engineNanos() / total;
                if (terminal) {
                    bars.get(i).stepTo(Math.round(share * 1000));
                    bars.get(i).setExtraMessage(String.format(Locale.ROOT, "%d launches", tenants.get(i).launches()));
                } else {
                    line.append(String.format(Locale.ROOT, "  t%d %.2f%%", i, 100 * share));
                }
            }
            if (!terminal) {
                out.println(line);
            }
        }

        @Override
        public void close() {
            for (ProgressBar b : bars) {
                b.close();
            }
        }
    }
}
