package io.isthmus.lab;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The lab: a QEMU guest (TCG, q35, {@code -cpu max}) with an emulated Intel IOMMU in DMA-translation mode
 * ({@code intel_iommu=on}), the edu PCI device bound to vfio-pci, a second edu bound to vfio-pci in a group that is
 * not viable (an e1000 behind the same PCI bridge keeps its kernel driver; see {@link #DEVICES}), and KVM ({@code kvm_amd} on QEMU's
 * emulated SVM with nested paging).
 *
 * <p>{@link #create} builds or reuses the cached {@link LabImage}; each {@link #run} boots the guest once,
 * runs a shell script inside it with a host directory shared at {@code /mnt/lab} over 9p, waits for the
 * guest to power off and returns the {@link LabRun}. {@link #runAttached} does the same for a command a person
 * runs: its standard streams are this process's, and the host's file system is visible in the guest at the same
 * paths. A guest that is not ready within the boot timeout, or (batch runs) does not power off within the run
 * timeout, is killed, and the failure carries the console's tail. A guest that dies before it is ready (before
 * any of the script ran: an emulated-machine boot flake) is booted once more before the run fails.
 *
 * <p>The serial console (kernel messages, the lab's markers, a batch script's output) goes to a file beside the
 * share; QEMU's own messages to another ({@code <share>-qemu.log}), shown when QEMU fails.
 *
 * <p>Lifetime: from {@link #create} to {@link #close()}, which stops a guest still running (say, when the
 * calling thread was interrupted or the user pressed Ctrl-C); close may be called from any thread. One run at a
 * time per instance.
 */
public final class QemuLab implements AutoCloseable {
    private static final Pattern EXIT = Pattern.compile("ISTHMUS-LAB EXIT (\\d+)");
    private static final Pattern FAIL = Pattern.compile("ISTHMUS-LAB FAIL (.*)");
    private static final String READY = "ISTHMUS-LAB READY";
    private static final int TAIL = 60;
    /**
     * {@code intel_iommu=on}: DMA translation (no {@code iommu=pt}), with interrupt remapping, which
     * vfio_iommu_type1 wants. {@code no_timer_check}: under TCG on a loaded host the kernel's check that the
     * timer interrupt arrives through the remapped IO-APIC can time out and panic ("timer doesn't work through
     * Interrupt-remapped IO-APIC"); the timer works, the check is just too impatient for an emulated CPU.
     */
    private static final String KERNEL_ARGS =
            "console=ttyS0 intel_iommu=on no_timer_check rdinit=/init panic=-1 quiet loglevel=4";

    /**
     * The PCI address of the lab's main edu, the one every edu test uses: slot 1 of the root bus, alone in its
     * IOMMU group. The guest's /init reads it from the kernel command line ({@code isthmus.edu=}) and exports
     * it to the tests as {@code ISTHMUS_LAB_EDU}.
     */
    public static final String EDU_ADDRESS = "0000:00:01.0";

    /**
     * The guest's PCI devices. Besides the IOMMU and the main edu: a PCIe-to-PCI bridge with a second edu and an
     * e1000 NIC behind it. A conventional PCI bus cannot tell its devices' DMA apart (requests carry the
     * bridge's requester ID), so the IOMMU puts the bridge and both devices in one group; /init binds the
     * second edu to vfio-pci while e1000 keeps its kernel driver, which makes that group not viable, as tests
     * of VFIO's viability check need ({@code ISTHMUS_LAB_NONVIABLE_GROUP} in the guest). The bridge's slot 0 is
     * its hot-plug controller's, hence slots 1 and 2. e1000 has no network backend: it is only driven, never
     * used (QEMU warns that it has no peer).
     */
    private static final List<String> DEVICES = List.of(
            "-device", "intel-iommu,caching-mode=on",
            "-device", "edu,addr=01.0",
            "-device", "pcie-pci-bridge,id=lab-pbr,addr=0a.0",
            "-device", "edu,bus=lab-pbr,addr=01.0",
            "-device", "e1000,bus=lab-pbr,addr=02.0");

    /**
     * The virtio-serial ports an attached command's standard streams travel on; the guest finds their devices by
     * these names under {@code /sys/class/virtio-ports}. {@value #STDIO_PORT} carries stdin and stdout,
     * {@value #STDERR_PORT} stderr.
     */
    public static final String STDIO_PORT = "isthmus.stdio", STDERR_PORT = "isthmus.stderr";
    /** The 9p tag of the host's root directory in attached runs. */
    public static final String HOST_TAG = "host";

    private final LabConfig config;
    private final LabImage image;
    private final Path qemu;
    private volatile Process running;

    private QemuLab(LabConfig config, LabImage image, Path qemu) {
        this.config = config;
        this.image = image;
        this.qemu = qemu;
    }

    /** A lab for {@code config}: checks QEMU is installed and builds (or reuses) the guest image. */
    public static QemuLab create(LabConfig config) {
        Path qemu = Commands.require("qemu-system-x86_64", "qemu-system-x86");
        return new QemuLab(config, LabImage.obtain(config), qemu);
    }

    /** A lab configured from the {@code isthmus.lab.*} system properties. */
    public static QemuLab create() {
        return create(LabConfig.fromSystemProperties());
    }

    /** The image this lab boots. */
    public LabImage image() {
        return image;
    }

    /** The configuration this lab runs with. */
    public LabConfig config() {
        return config;
    }

    /**
     * Boots the guest, runs {@code script} (busybox sh, working directory {@code /mnt/lab}, {@code java} on
     * the PATH) with {@code shareDir} shared read-write at {@code /mnt/lab}, and returns once the guest has
     * powered off. The script's output goes to the console; it writes results to {@code /mnt/lab/out}, which
     * is emptied first. A non-zero exit status of the script is returned, not thrown.
     *
     * @throws LabException when QEMU fails to start, the guest does not get ready or does not finish within the
     *                      timeouts, or it stops without reporting the script's exit status
     */
    public LabRun run(Path shareDir, String script) {
        try {
            return boot(shareDir.toAbsolutePath(), script, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * As {@link #run}, for a command run by a person: this process's standard input and output are copied to and
     * from the guest's virtio-serial port {@value #STDIO_PORT}, the port {@value #STDERR_PORT} to this process's
     * standard error, and the host's root directory is shared read-write with the tag {@value #HOST_TAG}, so that
     * {@code script} can run a command on the host's files at their own paths. The end of this process's input is
     * not passed on (a closed port would stop the guest's output too): the guest just receives nothing more. Only
     * the boot timeout applies: the command may run as long as it likes. (A terminal stays as the caller set it.)
     */
    public LabRun runAttached(Path shareDir, String script) {
        try {
            return boot(shareDir.toAbsolutePath(), script, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private LabRun boot(Path share, String script, boolean attached) throws IOException {
        Files.createDirectories(share);
        Path out = share.resolve("out");
        Cache.deleteTree(out);
        Files.createDirectories(out);
        Files.writeString(share.resolve("run.sh"), script, StandardCharsets.UTF_8);
        Path console = share.resolveSibling(share.getFileName() + "-console.log");
        Path qemuLog = share.resolveSibling(share.getFileName() + "-qemu.log");
        // UNIX socket paths are short (108 bytes): the stderr port's lives in a fresh directory under /tmp.
        Path sockets = attached ? Files.createTempDirectory("isthmus-lab") : null;
        try {
            List<String> cmd = new ArrayList<>(List.of(qemu.toString(),
                    "-accel", "tcg", "-machine", "q35", "-cpu", "max",
                    "-smp", Integer.toString(config.cpus()), "-m", config.memoryMiB() + "M",
                    "-nodefaults", "-display", "none", "-no-reboot",
                    "-chardev", "file,id=console,path=" + console, "-serial", "chardev:console"));
            // The fixed-address devices first: the virtio devices take the next free slots after them.
            cmd.addAll(DEVICES);
            cmd.addAll(List.of(
                    "-kernel", image.kernel().toString(), "-initrd", image.initramfs().toString(),
                    "-append", KERNEL_ARGS + " isthmus.edu=" + EDU_ADDRESS,
                    "-virtfs", "local,path=" + share + ",mount_tag=lab,security_model=none,id=lab"));
            if (attached) {
                cmd.addAll(List.of(
                        "-virtfs", "local,path=/,mount_tag=" + HOST_TAG + ",security_model=none,multidevs=remap,id=host",
                        "-device", "virtio-serial-pci,id=lab-serial",
                        "-chardev", "socket,id=cmdio,path=" + sockets.resolve("stdio") + ",server=on,wait=off",
                        "-device", "virtserialport,bus=lab-serial.0,chardev=cmdio,name=" + STDIO_PORT,
                        "-chardev", "socket,id=cmderr,path=" + sockets.resolve("stderr") + ",server=on,wait=off",
                        "-device", "virtserialport,bus=lab-serial.0,chardev=cmderr,name=" + STDERR_PORT));
            }
            for (int attempt = 1; ; attempt++) {
                Files.deleteIfExists(console);
                LabRun run = attempt(cmd, share, console, qemuLog, sockets);
                if (run != null) {
                    return run;
                }
                // The guest died before it was ready, so no test code ran: a boot-time flake of the emulated
                // machine (see KERNEL_ARGS), not a test failure. Try once more, keeping the first console.
                Path first = console.resolveSibling(console.getFileName() + ".boot-failure");
                Files.move(console, first, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                if (attempt == 2) {
                    throw new LabException("the lab guest failed twice to boot (it crashed or panicked before it was"
                            + " ready). Console " + first + ", last lines:\n" + LabRun.tail(first, TAIL));
                }
                System.err.println("isthmus-lab: the guest failed to boot (console kept in " + first
                        + "); booting once more\n" + LabRun.tail(first, 8));
            }
        } finally {
            if (sockets != null) {
                Cache.deleteTree(sockets);
            }
        }
    }

    /** One boot; null when the guest stopped before it was ready (no test code ran). */
    private LabRun attempt(List<String> cmd, Path share, Path console, Path qemuLog, Path sockets)
            throws IOException {
        boolean attached = sockets != null;
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/null")).redirectOutput(qemuLog.toFile())
                .redirectErrorStream(true).start();
        running = p;
        List<Thread> pumps = attached
                ? List.of(Pump.start(sockets.resolve("stdio"), p, System.in, System.out),
                        Pump.start(sockets.resolve("stderr"), p, null, System.err))
                : List.of();
        long bootLimit = config.bootTimeout().toNanos();
        long runLimit = attached ? Long.MAX_VALUE : config.timeout().toNanos();
        boolean ready = false;
        try {
            while (!p.waitFor(200, TimeUnit.MILLISECONDS)) {
                long elapsed = System.nanoTime() - start;
                if (!ready) {
                    ready = LabRun.read(console).contains(READY);
                    if (!ready && elapsed > bootLimit) {
                        close();
                        throw new LabException("the lab guest did not get ready within "
                                + config.bootTimeout().toSeconds() + " s (raise -Disthmus.lab.bootTimeoutSeconds if"
                                + " the host is just slow); QEMU was stopped. Console " + console + ", last lines:\n"
                                + LabRun.tail(console, TAIL));
                    }
                }
                if (elapsed > runLimit) {
                    close();
                    throw new LabException("the lab guest did not power off within " + config.timeout().toSeconds()
                            + " s (raise -Disthmus.lab.timeoutSeconds if the host is just slow); QEMU was stopped."
                            + " Console " + console + ", last lines:\n" + LabRun.tail(console, TAIL));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new LabException("interrupted while the lab guest ran; QEMU was stopped", e);
        }
        Duration wall = Duration.ofNanos(System.nanoTime() - start);
        for (Thread pump : pumps) {
            try {
                pump.join(10_000); // what QEMU took from the guest before it ended, to the terminal
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        int qemuStatus = p.exitValue();
        running = null;
        String text = LabRun.read(console);
        Matcher fail = FAIL.matcher(text);
        if (fail.find()) {
            throw new LabException("the lab guest could not prepare itself: " + fail.group(1) + ". Console "
                    + console + ", last lines:\n" + LabRun.tail(console, TAIL));
        }
        Matcher exit = EXIT.matcher(text);
        if (!exit.find()) {
            // QEMU exits 0 when a panicking guest reboots (-no-reboot); its own failures exit non-zero.
            if (!text.contains(READY) && qemuStatus == 0) {
                return null;
            }
            throw new LabException("the lab guest stopped (QEMU exit status " + qemuStatus + ") without reporting"
                    + " its command's exit status: it crashed, panicked, QEMU failed or was stopped. QEMU said:\n"
                    + LabRun.tail(qemuLog, 10) + "\nConsole " + console + ", last lines:\n"
                    + LabRun.tail(console, TAIL));
        }
        return new LabRun(Integer.parseInt(exit.group(1)), wall, LabRun.uptimeOf(text, READY),
                LabRun.uptimeOf(text, "ISTHMUS-LAB EXIT"), share, console);
    }

    /**
     * Stops a guest that is still running, idempotent: QEMU is asked to end (SIGTERM: it restores a terminal it
     * put in raw mode), and killed if it has not within 5 s.
     */
    @Override
    public void close() {
        Process p = running;
        running = null;
        if (p != null && p.isAlive()) {
            p.destroy();
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Copies one attached port between its QEMU socket and this process's streams while QEMU runs: the guest's
     * output to {@code out} until QEMU closes the socket, and {@code in} (if any) to the guest on a daemon thread
     * that stops at its end without closing the port.
     */
    private static final class Pump {
        private Pump() {}

        /** Starts the pump; the returned thread ends when the guest's output has all been copied. */
        static Thread start(Path socket, Process qemu, InputStream in, PrintStream out) {
            Thread t = new Thread(() -> {
                try (SocketChannel ch = connect(socket, qemu)) {
                    if (ch == null) {
                        return;
                    }
                    if (in != null) {
                        Thread input = new Thread(() -> copyIn(in, ch), "lab-stdin");
                        input.setDaemon(true);
                        input.start();
                    }
                    InputStream fromGuest = Channels.newInputStream(ch);
                    byte[] buf = new byte[8192];
                    int n;
                    while ((n = fromGuest.read(buf)) > 0) {
                        out.write(buf, 0, n);
                        out.flush();
                    }
                } catch (IOException e) {
                    // QEMU ended: nothing more will come.
                }
            }, "lab-" + socket.getFileName());
            t.setDaemon(true);
            t.start();
            return t;
        }

        private static void copyIn(InputStream in, SocketChannel ch) {
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buf, 0, n);
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                }
            } catch (IOException e) {
                // QEMU ended, or our input did: either way the guest receives nothing more.
            }
        }

        /** QEMU makes the socket as it starts, long before the guest can write to the port. */
        private static SocketChannel connect(Path socket, Process qemu) throws IOException {
            while (qemu.isAlive()) {
                if (Files.exists(socket)) {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    try {
                        ch.connect(UnixDomainSocketAddress.of(socket));
                        return ch;
                    } catch (IOException e) {
                        ch.close();
                    }
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return null;
                }
            }
            return null;
        }
    }
}
