package io.isthmus.vmm.config;

import io.isthmus.vmm.pci.IsthmusTestDevice;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The VMM's command line: QEMU's option names, value syntax ({@link QemuOpts}), defaults and error messages
 * for the subset this VMM implements. Every other option is an error naming it (exit status 1), never ignored:
 * QEMU options this VMM lacks are reported as unsupported, unknown ones exactly as QEMU reports them.
 *
 * <p>Hand-written rather than built on picocli: QEMU's grammar (single-dash long options that may also be
 * spelled with two dashes, per-option implied keys, {@code ,,} escapes) and its exact error texts are what a
 * drop-in command line has to reproduce, and no CLI library models them. Stateless; thread-safe.
 */
public final class CommandLine {
    /** QEMU's default RAM size for x86 machines. */
    public static final long DEFAULT_MEM = 128L << 20;
    /** microvm's {@code max_cpus}. */
    public static final int MAX_CPUS = 288;

    /** Options taking an argument, and those that take none (QEMU's qemu-options.def HAS_ARG flag). */
    private static final Set<String> WITH_ARG = Set.of("M", "machine", "accel", "m", "smp", "kernel", "initrd",
            "append", "serial", "display", "monitor", "name", "device", "qmp", "d", "D", "drive");
    private static final Set<String> NO_ARG = Set.of("nographic", "no-reboot", "S", "enable-kvm", "h", "help",
            "version", "no-shutdown");
    /**
     * QEMU options this VMM knows but does not implement: reported as unsupported rather than invalid, so a
     * user can tell "QEMU has this, isthmus does not" from a typo. Value: whether it takes an argument.
     */
    private static final Map<String, Boolean> UNSUPPORTED = Map.ofEntries(
            Map.entry("cpu", true), Map.entry("bios", true), Map.entry("hda", true),
            Map.entry("hdb", true), Map.entry("cdrom", true), Map.entry("netdev", true), Map.entry("net", true),
            Map.entry("chardev", true), Map.entry("object", true), Map.entry("numa", true),
            Map.entry("boot", true), Map.entry("vga", true), Map.entry("vnc", true), Map.entry("gdb", true),
            Map.entry("s", false), Map.entry("mon", true), Map.entry("global", true), Map.entry("rtc", true),
            Map.entry("icount", true), Map.entry("trace", true), Map.entry("fsdev", true),
            Map.entry("virtfs", true), Map.entry("smbios", true), Map.entry("fw_cfg", true),
            Map.entry("incoming", true), Map.entry("loadvm", true), Map.entry("snapshot", false),
            Map.entry("daemonize", false), Map.entry("pidfile", true), Map.entry("parallel", true),
            Map.entry("usb", false), Map.entry("usbdevice", true), Map.entry("sandbox", true),
            Map.entry("overcommit", true), Map.entry("mem-path", true), Map.entry("mem-prealloc", false),
            Map.entry("L", true), Map.entry("dtb", true), Map.entry("audiodev", true), Map.entry("k", true),
            Map.entry("no-hpet", false), Map.entry("no-acpi", false), Map.entry("sdl", false),
            Map.entry("curses", false), Map.entry("full-screen", false), Map.entry("g", true),
            Map.entry("watchdog-action", true), Map.entry("action", true), Map.entry("msg", true),
            Map.entry("runas", true), Map.entry("chroot", true), Map.entry("semihosting", false),
            Map.entry("plugin", true), Map.entry("compat", true), Map.entry("preconfig", false),
            Map.entry("add-fd", true), Map.entry("iscsi", true), Map.entry("blockdev", true),
            Map.entry("tpmdev", true), Map.entry("qmp-pretty", true),
            Map.entry("seed", true), Map.entry("rtc-td-hack", false), Map.entry("fda", true), Map.entry("mtdblock", true),
            Map.entry("sd", true), Map.entry("pflash", true), Map.entry("option-rom", true),
            Map.entry("xen-domid", true), Map.entry("only-migratable", false), Map.entry("nodefaults", false));

    /** Log items {@code -d} accepts: QEMU's names for what this VMM logs. */
    public static final List<String> LOG_ITEMS = List.of("guest_errors", "unimp", "int", "cpu_reset");

    /** What {@link #parse} found: a configuration to run, or an informational action. */
    public sealed interface Parsed permits Run, Help, Version {}

    /** Boot a VM with this configuration. */
    public record Run(VmConfig config) implements Parsed {}

    /** {@code -h}: print the usage. */
    public record Help() implements Parsed {}

    /** {@code -version}. */
    public record Version() implements Parsed {}

    private CommandLine() {}

    /** Parses {@code args}; throws {@link OptionException} with QEMU's message for anything it rejects. */
    public static Parsed parse(String[] args) {
        long mem = DEFAULT_MEM;
        int cpus = 1;
        String kernel = null, initrd = null, append = null, name = null, logFile = null;
        String serialSpec = null, monitorSpec = null, displaySpec = null, accel = null, machineAccel = null;
        boolean nographic = false, noReboot = false, startPaused = false, pcie = false;
        List<VmConfig.DebugExit> exits = new ArrayList<>();
        List<VmConfig.TestDevice> testDevices = new ArrayList<>();
        List<VmConfig.VfioPci> vfioDevices = new ArrayList<>();
        // -device is checked after parsing, as QEMU creates devices last; -drive partly now, partly after parsing.
        List<String[]> devices = new ArrayList<>();
        VirtioOptions virtio = new VirtioOptions();
        VmConfig.QmpSocket qmp = null;
        List<String> logItems = new ArrayList<>();

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("-") || arg.equals("-")) {
                // QEMU takes a bare argument as the first hard disk image.
                throw new OptionException(arg, "disk images (QEMU's -hda) are not supported by isthmus vmm");
            }
            String opt = arg.substring(arg.startsWith("--") ? 2 : 1);
            boolean hasArg;
            if (WITH_ARG.contains(opt)) {
                hasArg = true;
            } else if (NO_ARG.contains(opt)) {
                hasArg = false;
            } else if (UNSUPPORTED.containsKey(opt)) {
                hasArg = UNSUPPORTED.get(opt);
            } else {
                throw new OptionException(arg, "invalid option");
            }
            String val = null;
            if (hasArg) {
                if (i + 1 >= args.length) {
                    throw new OptionException(arg, "requires an argument");
                }
                val = args[++i];
            }
            String loc = arg + (hasArg ? " " + val : "");
            switch (opt) {
                case "h", "help" -> { return new Help(); }
                case "version" -> { return new Version(); }
                case "M", "machine" -> {
                    Machine m = machine(loc, val);
                    if (m.accel() != null) {
                        machineAccel = m.accel();
                    }
                    if (m.pcie() != null) {
                        pcie = m.pcie();
                    }
                }
                case "accel" -> accel = accel(loc, val);
                case "enable-kvm" -> accel = "kvm";
                case "m" -> mem = memory(loc, val);
                case "smp" -> cpus = smp(val);
                case "kernel" -> kernel = val;
                case "initrd" -> initrd = val;
                case "append" -> append = val;
                case "serial" -> serialSpec = val;
                case "nographic" -> nographic = true;
                case "display" -> displaySpec = display(loc, val);
                case "monitor" -> monitorSpec = val;
                case "no-reboot" -> noReboot = true;
                case "no-shutdown" -> throw unsupported(loc);
                case "S" -> startPaused = true;
                case "name" -> name = name(loc, val);
                case "device" -> devices.add(new String[] {loc, val});
                case "drive" -> virtio.drive(loc, val);
                case "qmp" -> qmp = qmp(loc, val);
                case "d" -> logItems.addAll(logItems(val));
                case "D" -> logFile = val;
                default -> throw unsupported(loc);
            }
        }
        if (accel != null && machineAccel != null) {
            throw new OptionException(null, "The -accel and \"-machine accel=\" options are incompatible");
        }
        if (kernel == null && initrd != null) {
            throw new OptionException(null, "-initrd only allowed with -kernel option");
        }
        if (kernel == null && append != null) {
            throw new OptionException(null, "-append only allowed with -kernel option");
        }
        if (monitorSpec != null && !monitorSpec.equals("none")) {
            // A spec QEMU itself rejects gets QEMU's error; a valid one that is not "none" is unsupported here.
            chardev("-monitor " + monitorSpec, monitorSpec, null);
            throw new OptionException("-monitor " + monitorSpec, "only '-monitor none' is supported by isthmus vmm"
                    + " (use -qmp for a management socket)");
        }
        // QEMU creates its block backends before the accelerator and the character backends.
        virtio.createDrives();
        // -nographic points serial and monitor at stdio (mon:stdio) unless they are given.
        boolean monitorOnStdio = nographic && monitorSpec == null;
        VmConfig.Chardev serial;
        if (serialSpec == null) {
            serial = new VmConfig.Chardev(nographic ? VmConfig.Chardev.Kind.STDIO
                    : displaySpec != null ? VmConfig.Chardev.Kind.NULL : VmConfig.Chardev.Kind.STDIO,
                    null, false, false);
        } else {
            serial = chardev("-serial " + serialSpec, serialSpec, "serial device");
            if (serial.kind() == VmConfig.Chardev.Kind.STDIO && monitorOnStdio) {
                String l = "-serial " + serialSpec;
                throw new OptionException(l, "cannot use stdio by multiple character devices\n"
                        + "isthmus-vmm: " + l + ": could not connect serial device to character backend '"
                        + serialSpec + "'");
            }
        }
        for (String[] d : devices) {
            VmConfig.TestDevice t = testDevice(d[0], d[1]);
            if (t != null) {
                if (!pcie) {
                    // QEMU creates devices after the machine: whether there is a bus is known only now.
                    throw new OptionException(d[0], "No 'PCI' bus found for device 'isthmus-testdev'");
                }
                testDevices.add(t);
                continue;
            }
            VmConfig.VfioPci vfio = vfioPci(d[0], d[1]);
            if (vfio != null) {
                if (!pcie) {
                    throw new OptionException(d[0], "No 'PCI' bus found for device 'vfio-pci' (passthrough needs"
                            + " -M microvm,pcie=on)");
                }
                vfioDevices.add(vfio);
                continue;
            }
            VmConfig.DebugExit exit = device(d[0], d[1], virtio);
            if (exit != null) {
                exits.add(exit);
            }
        }
        return new Run(new VmConfig(mem, cpus, kernel, initrd, append, serial, noReboot, startPaused, name,
                List.copyOf(exits), qmp, List.copyOf(logItems), logFile, virtio.devices(), pcie,
                List.copyOf(testDevices), List.copyOf(vfioDevices)));
    }

    private static OptionException unsupported(String loc) {
        return new OptionException(loc, "option not supported by isthmus vmm");
    }

    /** What one {@code -machine} option sets: the accelerator and {@code pcie}, or null where it does not. */
    private record Machine(String accel, Boolean pcie) {}

    private static Machine machine(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "type");
        String accel = null;
        Boolean pcie = null;
        for (Map.Entry<String, String> e : o.entrySet()) {
            String k = e.getKey(), v = e.getValue();
            switch (k) {
                case "type" -> {
                    if (v.equals("help") || v.equals("?")) {
                        throw new OptionException(null, "Supported machines are:\n"
                                + "microvm              microvm (i386) (default)");
                    }
                    if (!v.equals("microvm")) {
                        throw new OptionException(null, "unsupported machine type\n"
                                + "Use -machine help to list supported machines");
                    }
                }
                case "accel" -> {
                    if (!v.equals("kvm")) {
                        throw new OptionException(loc, "accelerator '" + v + "' is not supported by isthmus vmm"
                                + " (only kvm)");
                    }
                    accel = v;
                }
                case "acpi", "pic", "pit", "rtc", "ioapic2", "pcie", "smm" -> {
                    if (!v.equals("on") && !v.equals("off") && !v.equals("auto")) {
                        throw new OptionException(null, "Parameter '" + k + "' does not accept value '" + v + "'");
                    }
                    if (k.equals("pcie")) {
                        pcie = v.equals("on"); // microvm builds the host bridge only for "on"; "auto" is off
                    }
                }
                case "isa-serial", "x-option-roms", "auto-kernel-cmdline", "graphics", "usb", "mem-merge",
                     "dump-guest-core" -> {
                    if (QemuOpts.parseBool(v) == null) {
                        throw new OptionException(null, "Parameter '" + k + "' expects 'on' or 'off'");
                    }
                }
                default -> throw new OptionException(null, "Property 'microvm-machine." + k + "' not found");
            }
        }
        return new Machine(accel, pcie);
    }

    private static String accel(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "accel");
        String a = o.getOrDefault("accel", "");
        if (!a.equals("kvm")) {
            if (a.equals("tcg") || a.equals("xen") || a.equals("qtest") || a.equals("hax") || a.equals("whpx")) {
                throw new OptionException(loc, "accelerator '" + a + "' is not supported by isthmus vmm (only kvm)");
            }
            throw new OptionException(loc, "invalid accelerator " + a);
        }
        for (String k : o.keySet()) {
            if (!k.equals("accel")) {
                throw new OptionException(loc, "Property 'kvm-accel." + k + "' not found");
            }
        }
        return a;
    }

    private static long memory(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "size");
        long size = DEFAULT_MEM;
        for (Map.Entry<String, String> e : o.entrySet()) {
            switch (e.getKey()) {
                case "size" -> {
                    size = QemuOpts.parseSize(e.getValue(), 1L << 20);
                    if (size < 0) {
                        throw new OptionException(loc, "Parameter 'size' expects a non-negative number below 2^64\n"
                                + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                                + "and exabytes, respectively.");
                    }
                    if (size == 0) {
                        size = DEFAULT_MEM;
                    }
                }
                case "slots", "maxmem" -> throw new OptionException(loc, "memory hotplug ('" + e.getKey()
                        + "') is not supported by isthmus vmm");
                default -> throw new OptionException(loc, "Invalid parameter '" + e.getKey() + "'");
            }
        }
        // QEMU aligns RAM to 8 KiB; microvm then maps whole 2 MiB pages' worth, which the e820 map shows.
        long align = 8192;
        return (size + align - 1) & -align;
    }

    private static int smp(String val) {
        Map<String, String> o = QemuOpts.parse(val, "cpus");
        long cpus = 1;
        for (Map.Entry<String, String> e : o.entrySet()) {
            String k = e.getKey();
            switch (k) {
                case "cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads" -> {
                    long v = QemuOpts.parseUnsigned(e.getValue());
                    if (v < 0) {
                        throw new OptionException(null, "Parameter 'smp." + k + "' expects integer");
                    }
                    if (k.equals("cpus")) {
                        cpus = v;
                    }
                }
                default -> throw new OptionException(null, "Parameter 'smp." + k + "' is unexpected");
            }
        }
        if (cpus > MAX_CPUS) {
            throw new OptionException(null, "Invalid SMP CPUs " + cpus + ". The max CPUs supported by machine"
                    + " 'microvm' is " + MAX_CPUS);
        }
        return (int) Math.max(1, cpus);
    }

    private static String display(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "type");
        for (Map.Entry<String, String> e : o.entrySet()) {
            if (!e.getKey().equals("type")) {
                if (e.getValue().equals("on") && !val.contains(e.getKey() + "=")) {
                    throw new OptionException(loc, "Expected '=' after parameter '" + e.getKey() + "'");
                }
                throw new OptionException(loc, "Invalid parameter '" + e.getKey() + "'");
            }
        }
        String type = o.getOrDefault("type", "");
        return switch (type) {
            case "none" -> type;
            case "gtk", "sdl", "vnc", "curses", "egl-headless", "spice-app", "dbus", "cocoa" ->
                    throw new OptionException(loc, "display '" + type + "' is not supported by isthmus vmm"
                            + " (only none)");
            default -> throw new OptionException(loc, "Parameter 'type' does not accept value '" + type + "'");
        };
    }

    private static String name(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "guest");
        for (String k : o.keySet()) {
            if (!k.equals("guest") && !k.equals("process") && !k.equals("debug-threads")) {
                throw new OptionException(loc, "Invalid parameter '" + k + "'");
            }
        }
        return o.get("guest");
    }

    /** An isa-debug-exit, or null for a virtio device (added to {@code virtio}). */
    private static VmConfig.DebugExit device(String loc, String val, VirtioOptions virtio) {
        Map<String, String> o = QemuOpts.parse(val, "driver");
        String driver = o.getOrDefault("driver", "");
        if (driver.equals("help") || driver.equals("?")) {
            throw new OptionException(null, "Devices supported by isthmus vmm:\nname \"isa-debug-exit\", bus ISA\n"
                    + VirtioOptions.help() + "\n"
                    + "name \"isthmus-testdev\", bus PCI, desc \"PCI test function (needs -M microvm,pcie=on)\"\n"
                    + "name \"vfio-pci\", bus PCI, desc \"VFIO-based PCI device assignment (needs -M microvm,pcie=on)\"");
        }
        if (VirtioOptions.handles(driver)) {
            virtio.device(loc, driver, o);
            return null;
        }
        if (!driver.equals("isa-debug-exit") && (driver.startsWith("virtio-") || driver.startsWith("isa-")
                || driver.startsWith("vhost-") || driver.startsWith("pci-") || driver.startsWith("usb-")
                || Set.of("e1000", "ide-hd", "scsi-hd", "nvme", "i8042", "pvpanic", "qemu-xhci",
                "ich9-ahci", "intel-iommu", "loader", "nec-usb-xhci", "pc-testdev", "ivshmem-plain").contains(driver))) {
            throw new OptionException(loc, "device '" + driver + "' is not supported by isthmus vmm (only"
                    + " isa-debug-exit, virtio-blk-device, virtio-rng-device, isthmus-testdev and vfio-pci)");
        }
        if (!driver.equals("isa-debug-exit")) {
            throw new OptionException(loc, "'" + driver + "' is not a valid device model name");
        }
        long iobase = 0x501, iosize = 2;
        for (Map.Entry<String, String> e : o.entrySet()) {
            switch (e.getKey()) {
                case "driver" -> { }
                case "iobase", "iosize" -> {
                    long v = QemuOpts.parseUnsigned(e.getValue());
                    if (e.getValue().startsWith("-")) {
                        throw new OptionException(loc, "Parameter '" + e.getKey() + "' expects uint32_t");
                    }
                    if (v < 0) {
                        throw new OptionException(loc, "Parameter '" + e.getKey() + "' expects integer");
                    }
                    if (v > 0xffffffffL) {
                        throw new OptionException(loc, "Parameter '" + e.getKey() + "' expects uint32_t");
                    }
                    if (e.getKey().equals("iobase")) {
                        iobase = v;
                    } else {
                        iosize = v;
                    }
                }
                case "id" -> { }
                default -> throw new OptionException(loc, "Property 'isa-debug-exit." + e.getKey() + "' not found");
            }
        }
        if (iobase > 0xffff || iosize == 0 || iobase + iosize > 0x10000) {
            throw new OptionException(loc, "isa-debug-exit: ports 0x" + Long.toHexString(iobase) + "+0x"
                    + Long.toHexString(iosize) + " lie outside the 64 KiB I/O space");
        }
        return new VmConfig.DebugExit((int) iobase, (int) iosize);
    }

    /**
     * {@code -device isthmus-testdev[,addr=SLOT[.FN]][,membar=SIZE][,vectors=N][,id=ID]}, or null for another
     * driver.
     */
    private static VmConfig.TestDevice testDevice(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "driver");
        if (!o.getOrDefault("driver", "").equals("isthmus-testdev")) {
            return null;
        }
        int devfn = -1, vectors = IsthmusTestDevice.DEFAULT_VECTORS;
        long membar = IsthmusTestDevice.DEFAULT_MEMBAR;
        for (Map.Entry<String, String> e : o.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "driver", "id" -> { }
                case "addr" -> devfn = pciDevfn(loc, v, "isthmus-testdev");
                case "membar" -> {
                    membar = QemuOpts.parseSize(v, 1);
                    if (membar < 0) {
                        throw new OptionException(loc, "Parameter 'membar' expects a non-negative number below 2^64\n"
                                + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                                + "and exabytes, respectively.");
                    }
                    if (Long.bitCount(membar) != 1 || membar < 4096) {
                        throw new OptionException(loc, "isthmus-testdev: membar must be a power of two of at least"
                                + " 4K, not " + v);
                    }
                }
                case "vectors" -> {
                    long n = QemuOpts.parseUnsigned(v);
                    if (n < 0 || n > 0xffffffffL) {
                        throw new OptionException(loc, "Parameter 'vectors' expects uint32_t");
                    }
                    if (n < 1 || n > IsthmusTestDevice.MAX_VECTORS) {
                        throw new OptionException(loc, "isthmus-testdev: vectors must be 1 to "
                                + IsthmusTestDevice.MAX_VECTORS + ", not " + v);
                    }
                    vectors = (int) n;
                }
                default -> throw new OptionException(loc, "Property 'isthmus-testdev." + e.getKey() + "' not found");
            }
        }
        return new VmConfig.TestDevice(devfn, membar, vectors);
    }

    /** The PCI host address QEMU's {@code host} property takes: {@code [DDDD:]BB:DD.F}, in hex. */
    private static final java.util.regex.Pattern HOST_ADDR = java.util.regex.Pattern.compile(
            "(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\\.([0-7])");

    /**
     * {@code -device vfio-pci,host=[DDDD:]BB:DD.F|sysfsdev=PATH[,addr=SLOT[.FN]][,id=ID]}, or null for another
     * driver. Only the syntax is checked here; the device itself is opened when the machine is built.
     */
    private static VmConfig.VfioPci vfioPci(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, "driver");
        if (!o.getOrDefault("driver", "").equals("vfio-pci")) {
            return null;
        }
        String sysfsdev = null, host = null;
        int devfn = -1;
        for (Map.Entry<String, String> e : o.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "driver", "id" -> { }
                case "addr" -> devfn = pciDevfn(loc, v, "vfio-pci");
                case "host" -> {
                    java.util.regex.Matcher m = HOST_ADDR.matcher(v);
                    if (!m.matches()) {
                        throw new OptionException(loc, "Property 'vfio-pci.host' doesn't take value '" + v + "'");
                    }
                    int domain = m.group(1) == null ? 0 : Integer.parseInt(m.group(1), 16);
                    int dev = Integer.parseInt(m.group(3), 16);
                    if (dev > 0x1f) {
                        throw new OptionException(loc, "Property 'vfio-pci.host' doesn't take value '" + v + "'");
                    }
                    host = String.format("%04x:%02x:%02x.%d", domain, Integer.parseInt(m.group(2), 16), dev,
                            Integer.parseInt(m.group(4)));
                }
                case "sysfsdev" -> sysfsdev = v;
                default -> throw new OptionException(loc, "Property 'vfio-pci." + e.getKey() + "' not found");
            }
        }
        if (sysfsdev == null) {
            if (host == null) {
                throw new OptionException(loc, "No provided host device\n"
                        + "Use -device vfio-pci,host=DDDD:BB:DD.F or -device vfio-pci,sysfsdev=PATH_TO_DEVICE");
            }
            sysfsdev = "/sys/bus/pci/devices/" + host;
        }
        return new VmConfig.VfioPci(loc, sysfsdev, devfn);
    }

    private static final java.util.regex.Pattern PCI_ADDR =
            java.util.regex.Pattern.compile("(?:0[xX])?([0-9a-fA-F]+)(?:\\.(?:0[xX])?([0-9a-fA-F]+))?");

    /** QEMU's PCI {@code addr} property: {@code SLOT[.FN]} in hex (0x allowed, as sscanf's %x), slot 0-1f, fn 0-7. */
    private static int pciDevfn(String loc, String v, String driver) {
        java.util.regex.Matcher m = PCI_ADDR.matcher(v);
        if (m.matches()) {
            long slot = Long.parseLong(m.group(1).length() > 8 ? "100" : m.group(1), 16);
            long fn = m.group(2) == null ? 0 : Long.parseLong(m.group(2).length() > 8 ? "100" : m.group(2), 16);
            if (slot <= 0x1f && fn <= 7) {
                return (int) (slot << 3 | fn);
            }
        }
        throw new OptionException(loc, "Property '" + driver + ".addr' doesn't take value '" + v + "'");
    }

    private static VmConfig.QmpSocket qmp(String loc, String val) {
        VmConfig.Chardev c = chardev(loc, val, null);
        if (c.kind() != VmConfig.Chardev.Kind.UNIX || !c.server()) {
            throw new OptionException(loc, "only -qmp unix:PATH,server=on[,wait=off] is supported by isthmus vmm");
        }
        return new VmConfig.QmpSocket(c.path(), c.waitForClient());
    }

    /** A character device spec as {@code -serial}/{@code -qmp} take it ({@code qemu_chr_parse_compat}). */
    static VmConfig.Chardev chardev(String loc, String spec, String what) {
        String suffix = what == null ? "\nisthmus-vmm: " + loc + ": parse error: " + spec
                : "\nisthmus-vmm: " + loc + ": could not connect " + what + " to character backend '" + spec + "'";
        if (spec.equals("stdio") || spec.equals("mon:stdio")) {
            return new VmConfig.Chardev(VmConfig.Chardev.Kind.STDIO, null, false, false);
        }
        if (spec.equals("null")) {
            return new VmConfig.Chardev(VmConfig.Chardev.Kind.NULL, null, false, false);
        }
        if (spec.equals("none")) {
            return new VmConfig.Chardev(VmConfig.Chardev.Kind.NONE, null, false, false);
        }
        if (spec.startsWith("file:")) {
            return new VmConfig.Chardev(VmConfig.Chardev.Kind.FILE, spec.substring(5), false, false);
        }
        if (spec.startsWith("unix:")) {
            Map<String, String> o = QemuOpts.parse(spec.substring(5), "path");
            boolean server = false, wait = true;
            for (Map.Entry<String, String> e : o.entrySet()) {
                switch (e.getKey()) {
                    case "path" -> { }
                    case "server", "wait" -> {
                        Boolean b = QemuOpts.parseBool(e.getValue());
                        if (b == null) {
                            throw new OptionException(loc, "Parameter '" + e.getKey() + "' expects 'on' or 'off'"
                                    + suffix);
                        }
                        if (e.getKey().equals("server")) {
                            server = b;
                        } else {
                            wait = b;
                        }
                    }
                    default -> throw new OptionException(loc, "Invalid parameter '" + e.getKey() + "'" + suffix);
                }
            }
            if (!server) {
                throw new OptionException(loc, "client-mode UNIX sockets are not supported by isthmus vmm;"
                        + " use server=on");
            }
            return new VmConfig.Chardev(VmConfig.Chardev.Kind.UNIX, o.get("path"), true, wait);
        }
        String driver = spec.contains(":") ? spec.substring(0, spec.indexOf(':')) : spec;
        if (Set.of("pty", "vc", "tcp", "udp", "telnet", "pipe", "serial", "tty", "chardev", "braille",
                "msmouse", "websocket", "spicevmc", "spiceport", "ringbuf", "memory").contains(driver)) {
            throw new OptionException(loc, "character backend '" + driver + "' is not supported by isthmus vmm"
                    + " (use stdio, null, file: or unix:)");
        }
        throw new OptionException(loc, "'" + spec + "' is not a valid char driver" + suffix);
    }

    private static List<String> logItems(String val) {
        List<String> items = new ArrayList<>();
        for (String item : val.split(",", -1)) {
            if (!LOG_ITEMS.contains(item)) {
                StringBuilder sb = new StringBuilder("Log items (comma separated):\n");
                for (String s : LOG_ITEMS) {
                    sb.append(String.format("%-15s %s%n", s, switch (s) {
                        case "guest_errors" -> "log when the guest OS does something invalid (eg accessing a\n"
                                + "non-existent register)";
                        case "unimp" -> "log unimplemented functionality";
                        case "int" -> "show interrupts/exceptions in short format";
                        default -> "show CPU state before CPU resets";
                    }));
                }
                throw new LogHelpException(sb.toString());
            }
            items.add(item);
        }
        return items;
    }

    /**
     * {@code -d} with an unknown item: QEMU prints the list of items to stdout (no error prefix) and exits 1.
     * Immutable.
     */
    public static final class LogHelpException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LogHelpException(String text) {
            super(text);
        }
    }

    /** The usage text for {@code -h}. */
    public static String usage() {
        return """
                usage: isthmus vmm [options]
                A minimal KVM VMM that behaves like 'qemu-system-x86_64 -M microvm -accel kvm' for these options:

                -M|-machine microvm[,prop=value...]   the machine (microvm is the only one, and the default)
                -accel kvm | -enable-kvm              the accelerator (KVM is the only one)
                -m [size=]SIZE                        guest RAM (default 128M; suffixes k, M, G, T)
                -smp [cpus=]N                         number of vCPUs
                -kernel FILE                          Multiboot or Linux bzImage kernel (default: the built-in guest)
                -initrd FILE[ ARGS][,FILE...]         Linux initrd, or Multiboot modules with their arguments
                -append CMDLINE                       kernel command line
                -serial stdio|null|file:PATH|unix:PATH,server=on[,wait=off]
                -nographic | -display none            no display (-nographic also puts the serial port on stdio)
                -monitor none                         no monitor (use -qmp)
                -qmp unix:PATH,server=on[,wait=off]   QMP on a UNIX socket
                -device isa-debug-exit[,iobase=N][,iosize=N]   exit status (value << 1) | 1 on a port write
                -drive file=PATH,format=raw,if=none,id=ID[,readonly=on]   a raw disk image
                -device virtio-blk-device,drive=ID[,serial=S]   a virtio block device on that drive
                -device virtio-rng-device             a virtio entropy device (host /dev/urandom)
                -M microvm,pcie=on                    a PCI Express host bridge (ECAM, 32- and 64-bit windows)
                -device isthmus-testdev[,addr=SLOT[.FN]][,membar=SIZE][,vectors=N]
                                                      a PCI test function (BAR2 of membar bytes, MSI-X)
                -device vfio-pci,host=DDDD:BB:DD.F|sysfsdev=PATH[,addr=SLOT[.FN]]
                                                      pass a host PCI function bound to vfio-pci through
                -no-reboot                            exit instead of rebooting
                -S                                    start with the CPUs stopped (QMP 'cont' starts them)
                -name NAME                            the VM's name (QMP query-name)
                -d ITEM[,...]  -D FILE                log guest_errors, unimp, int, cpu_reset (to FILE)
                -version, -h

                With no -kernel it boots a small built-in guest that reports what it found and powers off.
                """;
    }
}
