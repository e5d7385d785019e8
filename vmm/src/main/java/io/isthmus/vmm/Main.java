package io.isthmus.vmm;

import io.isthmus.kvm.Kvm;
import io.isthmus.sys.NativeException;
import io.isthmus.vmm.boot.ImageFormatException;
import io.isthmus.vmm.boot.KernelLoader;
import io.isthmus.vmm.config.CommandLine;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.machine.HostStdio;
import io.isthmus.vmm.machine.MicroVm;
import io.isthmus.vmm.qmp.QmpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Entry point of {@code bin/isthmus vmm}: a minimal VMM that behaves like
 * {@code qemu-system-x86_64 -M microvm -accel kvm} for the options it supports.
 *
 * <p>Errors are one line (QEMU's message, prefixed {@code isthmus-vmm:}) and exit status 1; a stack trace only
 * with {@code ISTHMUS_VERBOSE=1}. With no {@code -kernel}, the built-in guest boots. QMP (and with it Jackson)
 * is loaded only when {@code -qmp} is given: startup time is one of this VMM's targets.
 *
 * <p>{@link #run(String[], HostStdio, PrintStream, PrintStream)} runs one machine inside the calling program and
 * returns the status QEMU would exit with, having released everything; only {@link #main} ends the process.
 * Thread-safe: machines run side by side in one JVM, except that the {@code -d} log is process-wide (SLF4J's).
 */
public final class Main {
    /** The program name in messages, where QEMU prints {@code qemu-system-x86_64}. */
    public static final String PROGRAM = "isthmus-vmm";
    /** The built-in guest, a Multiboot ELF built from {@code vmm/src/main/guest}. */
    public static final String DEFAULT_GUEST = "/io/isthmus/vmm/guest/default-guest.elf";
    /** The path the built-in guest reports as its kernel. */
    public static final String DEFAULT_GUEST_NAME = "isthmus-default-guest";

    private Main() {}

    public static void main(String[] args) {
        Prelink.start();
        System.exit(run(args, HostStdio.process(), System.out, System.err));
    }

    /**
     * Runs the VMM with {@code args} until the machine ends; returns its exit status.
     *
     * @param stdio where {@code -serial stdio} reads and writes
     * @param out   where {@code -help} and {@code -version} print
     * @param err   where errors and the machine's reports go
     */
    public static int run(String[] args, HostStdio stdio, PrintStream out, PrintStream err) {
        boolean verbose = System.getenv("ISTHMUS_VERBOSE") != null;
        CommandLine.Parsed parsed;
        try {
            parsed = CommandLine.parse(args);
        } catch (OptionException e) {
            err.println(e.format(PROGRAM));
            return 1;
        } catch (CommandLine.LogHelpException e) {
            out.print(e.getMessage());
            return 1;
        }
        switch (parsed) {
            case CommandLine.Help h -> {
                out.print(CommandLine.usage());
                return 0;
            }
            case CommandLine.Version v -> {
                out.println("isthmus vmm 0.1.0 (command line of QEMU emulator version 7.2, machine microvm)");
                return 0;
            }
            case CommandLine.Run r -> {
                return boot(r.config(), stdio, err, verbose || !r.config().logItems().isEmpty());
            }
        }
    }

    private static int boot(VmConfig config, HostStdio stdio, PrintStream err, boolean verbose) {
        try {
            byte[] kernel;
            String kernelName;
            VmConfig cfg = config;
            if (config.kernel() == null) {
                kernel = defaultGuest();
                kernelName = DEFAULT_GUEST_NAME;
                if (config.debugExits().isEmpty()) {
                    // The built-in guest powers off through isa-debug-exit at QEMU's default port.
                    List<VmConfig.DebugExit> exits = new ArrayList<>(List.of(new VmConfig.DebugExit(0x501, 2)));
                    cfg = new VmConfig(config.memBytes(), config.cpus(), null, null, null, config.serial(),
                            config.noReboot(), config.startPaused(), config.name(), List.copyOf(exits),
                            config.qmp(), config.logItems(), config.logFile(), config.virtioDevices(),
                            config.pcie(), config.testDevices(), config.vfioDevices());
                }
            } else {
                kernel = readKernel(config.kernel());
                kernelName = config.kernel();
            }
            VmConfig c = cfg;
            try (MicroVm vm = MicroVm.create(c, stdio, err, (map, ram) -> KernelLoader.load(kernel, kernelName,
                    c.append(), c.initrd(), map, ram, err));
                 QmpServer qmp = c.qmp() == null ? null : QmpServer.start(c.qmp(), vm, err)) {
                int status = vm.run();
                vm.flush();
                return status;
            }
        } catch (OptionException e) {
            err.println(e.format(PROGRAM));
            return 1;
        } catch (ImageFormatException e) {
            err.println(PROGRAM + ": " + e.getMessage());
            if (verbose) {
                e.printStackTrace(err);
            }
            return 1;
        } catch (Kvm.KvmUnavailableException | NativeException | IllegalStateException | IllegalArgumentException
                 | io.isthmus.kvm.memory.GuestMemoryException e) {
            err.println(PROGRAM + ": " + e.getMessage());
            if (verbose) {
                e.printStackTrace(err);
            }
            return 1;
        }
    }

    private static byte[] readKernel(String path) {
        try {
            return Files.readAllBytes(Path.of(path));
        } catch (NoSuchFileException e) {
            throw new ImageFormatException("could not open kernel file '" + path + "': No such file or directory");
        } catch (AccessDeniedException e) {
            throw new ImageFormatException("could not open kernel file '" + path + "': Permission denied");
        } catch (IOException | RuntimeException e) {
            String why = Files.isDirectory(Path.of(path)) ? "Is a directory" : String.valueOf(e.getMessage());
            throw new ImageFormatException("could not open kernel file '" + path + "': " + why);
        }
    }

    private static byte[] defaultGuest() {
        try (InputStream in = Main.class.getResourceAsStream(DEFAULT_GUEST)) {
            if (in == null) {
                throw new IllegalStateException("the built-in guest " + DEFAULT_GUEST + " is missing from the jar;"
                        + " rebuild with bin/isthmus or pass -kernel");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the built-in guest: " + e.getMessage(), e);
        }
    }
}
