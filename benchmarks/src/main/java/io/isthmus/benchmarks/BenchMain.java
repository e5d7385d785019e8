package io.isthmus.benchmarks;

import io.isthmus.lab.LabCommand;
import io.isthmus.lab.LabMain;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * {@code bin/isthmus bench}: JMH's command line, with the benchmarks that need what this host lacks run in the lab
 * guest. KVM benchmarks ({@link #KVM}) need {@code /dev/kvm}; VFIO benchmarks ({@link #VFIO}) need
 * {@code /dev/vfio/vfio} and a device bound to vfio-pci. Where the launcher says KVM work runs in the lab
 * ({@code ISTHMUS_BENCH_KVM=lab}: no {@code /dev/kvm}, or {@code --kvm=lab}), or the host has no VFIO, those
 * benchmarks run in one lab boot, with the same JMH options, their C and QEMU baselines beside them
 * ({@link Toolchain} prebuilds the C side here); the others run here, first. With {@code --kvm=host} everything
 * runs here, as plain JMH.
 *
 * <p>The exit status is JMH's (0, or 1 when a benchmark failed), the lab guest's command's, or 2 for options JMH
 * rejects; a lab that could not run gives {@link LabCommand#LAB_FAILED}.
 */
public final class BenchMain {
    /** Benchmark classes that need KVM. */
    static final Set<String> KVM = Set.of(KvmExitBenchmark.class.getName(), VmmStartupBenchmark.class.getName());
    /** Benchmark classes that need VFIO. */
    static final Set<String> VFIO = Set.of(VfioDmaBenchmark.class.getName(), VfioBarBenchmark.class.getName());

    private BenchMain() {}

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.getenv("ISTHMUS_BENCH_KVM"), Files.exists(Path.of("/dev/vfio/vfio")),
                System.err));
    }

    static int run(String[] args, String kvmMode, boolean hostHasVfio, PrintStream err) throws Exception {
        CommandLineOptions options;
        try {
            options = new CommandLineOptions(args);
        } catch (CommandLineOptionException e) {
            err.println("isthmus bench: " + e.getMessage() + " (JMH's options: isthmus bench -help)");
            return 2;
        }
        boolean listing = options.shouldHelp() || options.shouldList() || options.shouldListWithParams()
                || options.shouldListProfilers() || options.shouldListResultFormats();
        Set<String> labClasses = labClasses(kvmMode, hostHasVfio);
        SortedSet<BenchmarkListEntry> selected = listing || labClasses.isEmpty() ? new TreeSet<>() : select(options);
        List<String> inLab = new ArrayList<>(), here = new ArrayList<>();
        for (BenchmarkListEntry b : selected) {
            (labClasses.contains(b.getUserClassQName()) ? inLab : here).add(b.getUsername());
        }
        if (inLab.isEmpty()) {
            return jmh(args);
        }
        int status = 0;
        if (!here.isEmpty()) {
            List<String> hostArgs = new ArrayList<>(List.of(args));
            hostArgs.addAll(List.of("-e", classesRegex(labClasses)));
            status = jmh(hostArgs.toArray(String[]::new));
        }
        err.println("isthmus bench: " + why(kvmMode, hostHasVfio) + ": running "
                + inLab.stream().map(n -> n.substring(n.lastIndexOf('.', n.lastIndexOf('.') - 1) + 1))
                        .collect(Collectors.joining(", "))
                + " in the lab, on its nested KVM under QEMU's TCG (absolute figures are the emulator's; compare"
                + " each with its baseline, which runs beside it)");
        int lab = inLab(args, here.isEmpty() ? null : classesRegex(selected.stream()
                .map(BenchmarkListEntry::getUserClassQName).filter(c -> !labClasses.contains(c))
                .collect(Collectors.toSet())));
        return status != 0 ? status : lab;
    }

    /** The benchmark classes that must run in the lab here. */
    static Set<String> labClasses(String kvmMode, boolean hostHasVfio) {
        Set<String> lab = new TreeSet<>();
        if ("host".equals(kvmMode)) {
            return lab;
        }
        if ("lab".equals(kvmMode)) {
            lab.addAll(KVM);
        }
        if ("lab".equals(kvmMode) || !hostHasVfio) {
            lab.addAll(VFIO);
        }
        return lab;
    }

    private static String why(String kvmMode, boolean hostHasVfio) {
        String lab = System.getenv("ISTHMUS_BENCH_LAB_WHY");
        return "lab".equals(kvmMode) && lab != null ? lab : hostHasVfio ? "--kvm=lab" : "no /dev/vfio on this host";
    }

    private static SortedSet<BenchmarkListEntry> select(CommandLineOptions options) {
        List<String> includes = options.getIncludes().isEmpty() ? List.of(".*") : options.getIncludes();
        return BenchmarkList.defaultList().find(OutputFormatFactory.createFormatInstance(System.out,
                VerboseMode.SILENT), includes, options.getExcludes());
    }

    /** A JMH exclude pattern matching every benchmark of {@code classes}. */
    static String classesRegex(Set<String> classes) {
        return "^(?:" + classes.stream().sorted().map(Pattern::quote).collect(Collectors.joining("|")) + ")\\.";
    }

    /** JMH's own command line in this JVM (it exits the JVM itself when options or a benchmark fail). */
    private static int jmh(String[] args) throws Exception {
        org.openjdk.jmh.Main.main(args);
        return 0;
    }

    /**
     * JMH in the lab guest with the same options, {@code exclude} (null: none) keeping out what ran here, and the
     * C and guest baselines prebuilt here; its output on this terminal, its result files in this directory.
     */
    private static int inLab(String[] args, String exclude) throws IOException {
        Path jar = Path.of(BenchMain.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        Path tools = Files.createTempDirectory("isthmus-bench-tools");
        Toolchain.main(new String[] {tools.toString()});
        List<String> argv = new ArrayList<>(List.of("java", "-Djmh.ignoreLock=true",
                "-D" + Toolchain.PREBUILT + "=/mnt/lab/toolchain", "--enable-native-access=ALL-UNNAMED"));
        String root = System.getenv("ISTHMUS_ROOT");
        if (root != null) {
            argv.add("-Disthmus.root=" + root); // VmmStartupBenchmark's launcher, at its own path there too
        }
        argv.addAll(List.of("-cp", "/mnt/lab/benchmarks.jar", "org.openjdk.jmh.Main"));
        argv.addAll(List.of(args));
        if (exclude != null) {
            argv.addAll(List.of("-e", exclude));
        }
        LabCommand command = LabCommand.of(argv).share("benchmarks.jar", jar).share("toolchain", tools)
                // JMH's forks talk to the host VM over loopback, which the guest brings up only when asked.
                .before("ifconfig lo 127.0.0.1 up")
                // VmmStartupBenchmark runs bin/isthmus there as here: on the guest's JDK, with the jars built here
                // and an AOT cache of its own (the host's belongs to another JDK).
                .env("ISTHMUS_NO_BUILD", "1").env("JAVA_HOME", "/jdk").env("ISTHMUS_VMM_AOT", "/run/isthmus-vmm.aot");
        try {
            return LabMain.runAndClean(command);
        } finally {
            try (var files = Files.list(tools)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(tools);
        }
    }
}
