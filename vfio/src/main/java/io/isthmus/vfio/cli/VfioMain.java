package io.isthmus.vfio.cli;

import io.isthmus.vfio.IommuInfo;
import io.isthmus.vfio.IrqInfo;
import io.isthmus.vfio.PciAddress;
import io.isthmus.vfio.RegionInfo;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vfio.VfioGroup;
import io.isthmus.vfio.VfioSys;
import io.isthmus.vfio.pci.ConfigSpace;
import io.isthmus.vfio.pci.DriverBinding;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.PciResource;
import io.isthmus.vfio.pci.SysfsPci;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code isthmus vfio}: list PCI devices with their IOMMU groups and drivers, show one device's regions, BARs,
 * interrupts and capabilities, and bind or unbind devices to vfio-pci.
 *
 * <p>Errors print one line ({@code isthmus vfio: …}) and exit non-zero; {@code -d}/{@code --verbose} adds the
 * stack trace. Exit codes: 0 success, 1 failure, 2 bad usage.
 */
@Command(name = "isthmus vfio", mixinStandardHelpOptions = true, version = "isthmus vfio 0.1",
        description = "List, inspect, bind and unbind PCI devices for VFIO.",
        subcommands = {VfioMain.ListCommand.class, VfioMain.InfoCommand.class, VfioMain.BindCommand.class,
                VfioMain.UnbindCommand.class})
public final class VfioMain implements Callable<Integer> {

    @Option(names = {"-d", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
            description = "print stack traces with errors")
    boolean verbose;

    @Option(names = "--sysfs", scope = CommandLine.ScopeType.INHERIT, paramLabel = "DIR", defaultValue = "/sys",
            description = "sysfs root (default: ${DEFAULT-VALUE})")
    Path sysfs;

    @Option(names = "--dev-vfio", scope = CommandLine.ScopeType.INHERIT, paramLabel = "DIR",
            defaultValue = "/dev/vfio", description = "VFIO device directory (default: ${DEFAULT-VALUE})")
    String devVfio;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 2;
    }

    SysfsPci sysfs() {
        return new SysfsPci(sysfs);
    }

    /** Runs the CLI and returns its exit code (for tests); {@link #main} exits with it. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        VfioMain main = new VfioMain();
        CommandLine cl = new CommandLine(main);
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("isthmus vfio: " + ex.getMessage() + " (try 'isthmus vfio --help')");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            err.println("isthmus vfio: " + oneLine(t));
            if (main.verbose) {
                t.printStackTrace(err);
            }
            return 1;
        });
        int rc = cl.execute(args);
        out.flush();
        err.flush();
        return rc;
    }

    private static String oneLine(Throwable t) {
        String m = t.getMessage();
        if (t instanceof java.io.UncheckedIOException u && u.getCause() != null) {
            m = m + ": " + u.getCause().getMessage();
        }
        return m == null ? t.getClass().getSimpleName() : m.replace('\n', ' ');
    }

    public static void main(String[] args) {
        // The console's charset (stdout.encoding), not the default UTF-8: what a POSIX-locale console can show.
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, System.out.charset()), true);
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, System.err.charset()), true);
        System.exit(run(out, err, args));
    }

    static PciAddress parseAddress(String text) {
        return PciAddress.parse(text);
    }

    /** {@code list}: one line per function, lspci-like, with IOMMU group and driver. */
    @Command(name = "list", description = "List PCI devices with IOMMU groups and drivers.")
    static final class ListCommand implements Callable<Integer> {
        @CommandLine.ParentCommand
        VfioMain parent;

        @Override
        public Integer call() {
            PrintWriter out = parent.spec.commandLine().getOut();
            List<PciDevice> devices = parent.sysfs().devices();
            if (devices.isEmpty()) {
                throw new IllegalStateException("no PCI devices under " + parent.sysfs.resolve("bus/pci/devices"));
            }
            out.printf("%-12s  %-34s %-9s %-4s %-5s %s%n", "DEVICE", "CLASS", "ID", "REV", "GROUP", "DRIVER");
            for (PciDevice d : devices) {
                out.printf("%-12s  %-34s %04x:%04x %02x   %-5s %s%n", d.address(),
                        truncate(d.className() + String.format(" [%04x]", d.classCode() >>> 8), 34), d.vendor(),
                        d.device(), d.revision(),
                        d.iommuGroup().isPresent() ? Integer.toString(d.iommuGroup().getAsInt()) : "-",
                        d.driver().orElse("-"));
            }
            return 0;
        }
    }

    private static String truncate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 3) + "...";
    }

    /** {@code info BDF}: identity, resources, config-space capabilities; VFIO regions and IRQs when bound. */
    @Command(name = "info", description = "Show a device's BARs, regions, IRQs and capabilities.")
    static final class InfoCommand implements Callable<Integer> {
        @CommandLine.ParentCommand
        VfioMain parent;

        @Parameters(paramLabel = "BDF", description = "PCI address, e.g. 0000:00:02.0 or 00:02.0")
        String bdf;

        @Override
        public Integer call() {
            PrintWriter out = parent.spec.commandLine().getOut();
            SysfsPci sysfs = parent.sysfs();
            PciDevice d = sysfs.require(parseAddress(bdf));
            out.printf("%s %s [%04x]: %04x:%04x (rev %02x)%n", d.address(), d.className(), d.classCode() >>> 8,
                    d.vendor(), d.device(), d.revision());
            out.printf("\tSubsystem: %04x:%04x%n", d.subsystemVendor(), d.subsystemDevice());
            out.printf("\tDriver: %s%s%n", d.driver().orElse("none"),
                    d.driverOverride().map(o -> " (driver_override " + o + ")").orElse(""));
            out.printf("\tIOMMU group: %s%n", d.iommuGroup().isPresent()
                    ? d.iommuGroup().getAsInt() + " (" + sysfs.describeGroup(d.iommuGroup().getAsInt()) + ")"
                    : "none (no IOMMU, or it is disabled: boot with intel_iommu=on / amd_iommu=on)");
            for (PciResource r : d.resources()) {
                if (r.size() > 0 && r.index() <= 6) {
                    out.printf("\tRegion %s: %s%n", r.name(), r.describe());
                }
            }
            ConfigSpace cfg = sysfs.config(d.address());
            if (cfg.size() < 256) {
                out.printf("\tConfig space: only %d bytes readable (run as root for capabilities)%n", cfg.size());
            } else {
                cfg.renderCapabilities("\t").forEach(out::println);
            }
            if (!d.boundToVfio()) {
                out.println("\tVFIO: not bound to vfio-pci; shown above is what sysfs and config space give"
                        + " (bind it with 'isthmus vfio bind " + d.address() + "' for VFIO regions and IRQs)");
                return 0;
            }
            if (!Files.isDirectory(Path.of(parent.devVfio))) {
                out.println("\tVFIO: bound to vfio-pci but " + parent.devVfio + " is missing; showing sysfs only");
                return 0;
            }
            try (VfioContainer c = VfioContainer.open(VfioSys.linux(), parent.devVfio)) {
                VfioGroup g = c.group(d.iommuGroup().orElseThrow());
                VfioDevice dev = g.device(d.address());
                out.printf("\tVFIO device: flags 0x%x%s%s, %d regions, %d IRQ indexes%n", dev.flags(),
                        dev.isPci() ? " pci" : "", dev.canReset() ? " reset" : "", dev.regions().size(),
                        dev.irqs().size());
                for (RegionInfo r : dev.regions()) {
                    if (r.size() > 0) {
                        out.println("\t\t" + r.describe());
                    }
                }
                for (IrqInfo i : dev.irqs()) {
                    out.println("\t\t" + i.describe());
                }
                IommuInfo io = c.iommuInfo();
                out.printf("\tIOMMU: page sizes 0x%x, IOVA ranges %s%s%n", io.pageSizes(), io.iovaRanges(),
                        io.dmaAvailable().isPresent() ? ", DMA mappings available " + io.dmaAvailable().getAsInt()
                                : "");
            }
            return 0;
        }
    }

    /**
     * {@code bind BDF...}: bind to vfio-pci through driver_override, refusing (and changing nothing) when a device's
     * IOMMU group would not be viable; the devices of one group are bound together.
     */
    @Command(name = "bind", description = {"Bind devices to vfio-pci (needs root and the vfio-pci module).",
            "Refused, with nothing changed, when a device's IOMMU group would still hold a device driven by the kernel:"
                    + " name the devices of a group together."})
    static final class BindCommand implements Callable<Integer> {
        @CommandLine.ParentCommand
        VfioMain parent;

        @Parameters(paramLabel = "BDF", arity = "1..*", description = "PCI addresses, e.g. 0000:00:02.0 or 00:02.0")
        List<String> bdfs;

        @Override
        public Integer call() {
            PrintWriter out = parent.spec.commandLine().getOut();
            SysfsPci sysfs = parent.sysfs();
            List<PciAddress> addresses = bdfs.stream().map(VfioMain::parseAddress).toList();
            // The CLI leaves the devices bound: the bindings are not closed (that would restore the old drivers).
            List<DriverBinding> bindings = sysfs.bindToVfio(addresses);
            for (DriverBinding b : bindings) {
                PciDevice d = sysfs.require(b.address());
                String group = d.iommuGroup().isPresent() ? Integer.toString(d.iommuGroup().getAsInt()) : "-";
                out.printf("%s bound to vfio-pci (was %s); IOMMU group %s -> %s/%s%n", b.address(),
                        b.originalDriver().orElse("no driver"), group, parent.devVfio, group);
            }
            return 0;
        }
    }

    /** {@code unbind BDF...}: unbind from vfio-pci, clear driver_override and let the kernel reprobe its driver. */
    @Command(name = "unbind", description = "Unbind devices from vfio-pci, clear their driver_override and reprobe"
            + " their default drivers.")
    static final class UnbindCommand implements Callable<Integer> {
        @CommandLine.ParentCommand
        VfioMain parent;

        @Parameters(paramLabel = "BDF", arity = "1..*", description = "PCI addresses, e.g. 0000:00:02.0 or 00:02.0")
        List<String> bdfs;

        @Override
        public Integer call() {
            PrintWriter out = parent.spec.commandLine().getOut();
            SysfsPci sysfs = parent.sysfs();
            List<PciAddress> addresses = bdfs.stream().map(VfioMain::parseAddress).toList();
            for (PciAddress a : addresses) {
                PciDevice before = sysfs.require(a);
                if (!before.boundToVfio()) {
                    throw new IllegalStateException(a + " is not bound to vfio-pci (driver: "
                            + before.driver().orElse("none") + "); nothing to unbind");
                }
            }
            for (PciAddress a : addresses) {
                Optional<String> now = sysfs.releaseFromVfio(a);
                out.printf("%s unbound from vfio-pci; now %s%n", a,
                        now.map(s -> "bound to " + s).orElse("without driver"));
            }
            return 0;
        }
    }
}
