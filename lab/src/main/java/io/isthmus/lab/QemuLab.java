package io.isthmus.lab;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
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
 * guest to power off and returns the {@link LabRun}. A guest that does not power off within the configured
 * timeout is killed, and the failure carries the console's tail. A guest that dies before it is ready (before
 * any of the script ran: an emulated-machine boot flake) is booted once more before the run fails.
 *
 * <p>Lifetime: from {@link #create} to {@link #close()}, which kills a guest still running (say, when the
 * calling thread was interrupted); close may be called from any thread. One run at a time per instance.
 */
public final class QemuLab implements AutoCloseable {
    private static final Pattern EXIT = Pattern.compile("ISTHMUS-LAB EXIT (\\d+)");
    private static final Pattern FAIL = Pattern.compile("ISTHMUS-LAB FAIL (.*)");
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
     * @throws LabException when QEMU fails to start, the guest does not finish within the timeout, or it
     *                      stops without reporting the script's exit status
     */
    public LabRun run(Path shareDir, String script) {
        try {
            return boot(shareDir.toAbsolutePath(), script);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private LabRun boot(Path share, String script) throws IOException {
        Files.createDirectories(share);
        Path out = share.resolve("out");
        Cache.deleteTree(out);
        Files.createDirectories(out);
        Files.writeString(share.resolve("run.sh"), script, StandardCharsets.UTF_8);
        Path console = share.resolveSibling(share.getFileName() + "-console.log");

        List<String> cmd = new ArrayList<>(List.of(qemu.toString(),
                "-accel", "tcg", "-machine", "q35", "-cpu", "max",
                "-smp", Integer.toString(config.cpus()), "-m", config.memoryMiB() + "M",
                "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot"));
        // The fixed-address devices first: the 9p share's virtio device takes the next free slot after them.
        cmd.addAll(DEVICES);
        cmd.addAll(List.of(
                "-kernel", image.kernel().toString(), "-initrd", image.initramfs().toString(),
                "-append", KERNEL_ARGS + " isthmus.edu=" + EDU_ADDRESS,
                "-virtfs", "local,path=" + share + ",mount_tag=lab,security_model=none,id=lab"));
        for (int attempt = 1; ; attempt++) {
            LabRun run = attempt(cmd, share, console);
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
    }

    /** One boot; null when the guest stopped before it was ready (no test code ran). */
    private LabRun attempt(List<String> cmd, Path share, Path console) throws IOException {
        long start = System.nanoTime();
        running = new ProcessBuilder(cmd)
                .redirectInput(new File("/dev/null"))
                .redirectOutput(console.toFile())
                .redirectErrorStream(true)
                .start();
        boolean finished;
        try {
            finished = running.waitFor(config.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new LabException("interrupted while the lab guest ran; QEMU was killed", e);
        }
        Duration wall = Duration.ofNanos(System.nanoTime() - start);
        if (!finished) {
            close();
            throw new LabException("the lab guest did not power off within " + config.timeout().toSeconds()
                    + " s (raise -Disthmus.lab.timeoutSeconds if the host is just slow); QEMU was killed."
                    + " Console " + console + ", last lines:\n" + LabRun.tail(console, TAIL));
        }
        int qemuStatus = running.exitValue();
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
            if (!text.contains("ISTHMUS-LAB READY") && qemuStatus == 0) {
                return null;
            }
            throw new LabException("the lab guest stopped (QEMU exit status " + qemuStatus + ") without reporting"
                    + " its command's exit status: it crashed, panicked or QEMU failed. Console " + console
                    + ", last lines:\n" + LabRun.tail(console, TAIL));
        }
        return new LabRun(Integer.parseInt(exit.group(1)), wall, LabRun.uptimeOf(text, "ISTHMUS-LAB READY"),
                LabRun.uptimeOf(text, "ISTHMUS-LAB EXIT"), share, console);
    }

    /** Kills a guest that is still running; idempotent. */
    @Override
    public void close() {
        Process p = running;
        running = null;
        if (p != null && p.isAlive()) {
            p.destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
