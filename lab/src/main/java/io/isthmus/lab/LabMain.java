package io.isthmus.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What {@code bin/isthmus} runs when a command needs KVM and the host has none: the command, inside the lab
 * guest, attached to this terminal ({@link LabCommand}).
 *
 * <pre>
 * java -cp isthmus-lab.jar io.isthmus.lab.LabMain vmm VMM-TARGET-DIR [VMM OPTIONS...]
 * java -cp isthmus-lab.jar io.isthmus.lab.LabMain demo VMM-TARGET-DIR [DEMO ARGUMENTS...]
 * </pre>
 * runs {@code io.isthmus.vmm.Main} ({@code isthmus vmm}) or {@code io.isthmus.vmm.demo.DemoMain}
 * ({@code isthmus demo}) from {@code VMM-TARGET-DIR} (the vmm module's jar and its {@code lib/}) on the guest's JDK,
 * with the JVM options in {@code $ISTHMUS_VMM_JVM_OPTIONS} (the launcher's), and exits with the command's exit
 * status; {@value LabCommand#LAB_FAILED} when the lab itself failed, after one message on standard error.
 * The lab's settings are the {@code isthmus.lab.*} system properties ({@link LabConfig}).
 */
public final class LabMain {
    /** The commands it runs: their module and main class. */
    static final Map<String, String> MAINS = Map.of("vmm", "io.isthmus.vmm/io.isthmus.vmm.Main",
            "demo", "io.isthmus.vmm/io.isthmus.vmm.demo.DemoMain");

    private LabMain() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length < 2 || !MAINS.containsKey(args[0])) {
            System.err.println("usage: LabMain vmm|demo VMM-TARGET-DIR [ARGUMENTS...]");
            return 2;
        }
        Path target = Path.of(args[1]);
        List<String> vmmArgs = Arrays.asList(args).subList(2, args.length);
        try {
            List<String> argv = new ArrayList<>(List.of("java"));
            String options = System.getenv("ISTHMUS_VMM_JVM_OPTIONS");
            if (options != null && !options.isBlank()) {
                argv.addAll(List.of(options.strip().split("\\s+")));
            }
            argv.addAll(List.of("--enable-native-access=io.isthmus.bindings",
                    "-p", "/mnt/lab/vmm.jar:/mnt/lab/lib", "-m", MAINS.get(args[0])));
            argv.addAll(vmmArgs);
            LabCommand command = LabCommand.of(argv).share("vmm.jar", vmmJar(target)).share("lib", target.resolve("lib"));
            for (String name : List.of("ISTHMUS_VERBOSE", "ISTHMUS_TERMINAL")) {
                String value = System.getenv(name);
                if (value != null) {
                    command.env(name, value);
                }
            }
            return runAndClean(command);
        } catch (LabException e) {
            System.err.println("isthmus-lab: " + e.getMessage());
            return LabCommand.LAB_FAILED;
        }
    }

    /**
     * Runs {@code command} in a fresh lab with a temporary run directory, removed afterwards unless the lab failed
     * (its console and QEMU's log are then what the message points at) or {@code ISTHMUS_LAB_KEEP} is set.
     */
    public static int runAndClean(LabCommand command) {
        Path runDir;
        try {
            runDir = Files.createTempDirectory("isthmus-lab-run");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int status;
        try (QemuLab lab = QemuLab.create()) {
            // Ctrl-C ends this JVM: QEMU (which gets the signal too) is asked to stop and restore the terminal.
            Thread stop = new Thread(lab::close, "lab-stop");
            Runtime.getRuntime().addShutdownHook(stop);
            status = command.run(lab, runDir);
            Runtime.getRuntime().removeShutdownHook(stop);
        } catch (LabException e) {
            System.err.println("isthmus-lab: " + e.getMessage());
            status = LabCommand.LAB_FAILED;
        }
        if (status != LabCommand.LAB_FAILED && System.getenv("ISTHMUS_LAB_KEEP") == null) {
            Cache.deleteTree(runDir);
        } else {
            System.err.println("isthmus-lab: the run's console and logs are in " + runDir);
        }
        return status;
    }

    /** The vmm module's jar in {@code target}, not its sources, javadoc or tests jar. */
    static Path vmmJar(Path target) {
        try (Stream<Path> s = Files.list(target)) {
            return s.filter(p -> p.getFileName().toString().matches("isthmus-vmm-[^-]+(-SNAPSHOT)?\\.jar"))
                    .findFirst().orElseThrow(() -> new LabException("no isthmus-vmm jar in " + target
                            + ": build the vmm module first (bin/isthmus vmm does)"));
        } catch (IOException e) {
            throw new LabException("cannot read " + target + ": " + e.getMessage(), e);
        }
    }
}
