package io.isthmus.lab.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.lab.LabConfig;
import io.isthmus.lab.LabImage;
import io.isthmus.vmm.Main;
import io.isthmus.vmm.machine.HostStdio;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stock Linux guest on this VMM and on QEMU microvm, side by side on the same KVM: Debian's kernel (the lab's
 * own) and a busybox initramfs with the virtio modules ({@link LabImage}), the same command line, each with a
 * virtio-blk disk (a copy of the same image) and a virtio-rng. The guest reports what it sees (CPUs, memory, timer
 * interrupts, virtio devices and their drivers, the ACPI tables, the disk), writes to the disk and measures it;
 * the test compares the reports and, after both VMMs have exited, the two disk images byte for byte, and prints the
 * boot time and disk figures of both (also into {@code linux-bench.txt} in the lab's results).
 *
 * <p>The disk measurement is short here ({@code isthmus.linux.benchMiB}, 16 MiB; {@code isthmus.linux.randreads},
 * 2,000 reads): pass larger values for the full figures.
 */
@Tag("kvm")
class LinuxBootTest {
    private static final Pattern LINE = Pattern.compile("ISTHMUS-LINUX (.*)");
    private static final int DISK_MIB = 64;

    @Test
    void debiansKernelBootsOnBothVmmsAndTheirDisksEndAlike(@TempDir Path dir) throws Exception {
        Path kernel, initramfs;
        if (Boolean.getBoolean("isthmus.lab.guest")) {
            kernel = Path.of(LabImage.GUEST_LINUX, "vmlinuz");
            initramfs = Path.of(LabImage.GUEST_LINUX, "initramfs.cpio");
        } else {
            LabImage image = LabImage.obtain(LabConfig.fromSystemProperties());
            kernel = image.linuxKernel();
            initramfs = image.linuxInitramfs();
        }
        int mib = Integer.getInteger("isthmus.linux.benchMiB", 16);
        int reads = Integer.getInteger("isthmus.linux.randreads", 2000);
        Path qemuDisk = disk(dir.resolve("qemu.img")), ourDisk = disk(dir.resolve("isthmus.img"));

        Run qemu = qemu(args(kernel, initramfs, qemuDisk, mib, reads));
        List<String> ourArgs = new ArrayList<>(args(kernel, initramfs, ourDisk, mib, reads));
        ourArgs.addAll(List.of("-device", "isthmus-testdev"));
        Run ours = isthmus(ourArgs);

        Map<String, String> q = report(qemu.out), i = report(ours.out);
        assertEquals(0, qemu.status, "QEMU's exit status (ACPI power-off):\n" + qemu.out);
        assertEquals(0, ours.status, "this VMM's exit status (ACPI power-off):\n" + ours.out);
        assertTrue(q.containsKey("DONE"), "QEMU's guest ran to its end:\n" + qemu.out);
        assertTrue(i.containsKey("DONE"), "this VMM's guest ran to its end:\n" + ours.out);
        // What a guest sees must be the same; timings are compared, not asserted. MemTotal differs by what the
        // kernel keeps for itself, which depends on the CPU it finds: QEMU's default model (qemu64) against the
        // CPUID KVM supports, which this VMM gives (QEMU's -cpu host); within 2 %.
        long qm = Long.parseLong(q.get("memtotal_kib")), im = Long.parseLong(i.get("memtotal_kib"));
        assertTrue(Math.abs(qm - im) < qm / 50, "MemTotal " + im + " kB here, " + qm + " kB under QEMU");
        for (String key : List.of("cpus", "timer", "virtio 0x0002", "virtio 0x0004", "acpi",
                "pci 0000:00:00.0", "vda_sectors", "vda_first_sector_md5", "wrote")) {
            assertEquals(q.get(key), i.get(key), key + ": QEMU's guest said\n" + qemu.out + "\nthis VMM's said\n"
                    + ours.out);
        }
        // The same numbering (virtio0 the disk): the DSDT lists the transports in the order QEMU's does.
        assertEquals(virtioOrder(qemu.out), virtioOrder(ours.out));
        assertEquals("ticking", i.get("timer"));
        assertEquals("driver=virtio_blk", i.get("virtio 0x0002"));
        assertEquals("driver=virtio_rng", i.get("virtio 0x0004"));
        assertEquals((DISK_MIB << 20) / 512 + " ro=0", i.get("vda_sectors"));
        // The PCI bus (-M microvm,pcie=on): both guests see the host bridge; this VMM's also the test function
        // (not a QEMU device), whose 128 GiB BAR2 the kernel placed, naturally aligned, in the 64-bit window.
        assertEquals("1", q.get("pci_devices"), qemu.out);
        assertEquals("2", i.get("pci_devices"), ours.out);
        assertEquals("0x1b36:0x0008 class=0x060000 bar0=0x0000000000000000 bar2=0x0000000000000000",
                i.get("pci 0000:00:00.0"));
        String testdev = i.get("pci 0000:00:01.0");
        assertTrue(testdev != null && testdev.startsWith("0x1234:0x7e57 class=0xff0000 bar0=0x00000000c"), ours.out);
        long bar2 = Long.parseUnsignedLong(testdev.replaceFirst(".*bar2=0x", ""), 16);
        assertTrue(bar2 >= 1L << 38 && bar2 % (128L << 30) == 0, "BAR2 at 0x" + Long.toHexString(bar2));
        byte[] qemuBytes = Files.readAllBytes(qemuDisk), ourBytes = Files.readAllBytes(ourDisk);
        assertTrue(new String(ourBytes, 4096, 40, StandardCharsets.US_ASCII).startsWith(
                "written by the guest through virtio-blk"), "the guest's write reached the file");
        assertArrayEquals(qemuBytes, ourBytes, "the disks differ after the same guest ran on both VMMs");

        String figures = String.format("linux: boot to init (host wall) QEMU %.2f s, isthmus %.2f s (ratio %.2f);"
                        + " guest uptime at init QEMU %s s, isthmus %s s%n%s%n%s%n",
                qemu.toInitNanos / 1e9, ours.toInitNanos / 1e9, (double) ours.toInitNanos / qemu.toInitNanos,
                uptime(q.get("INIT")), uptime(i.get("INIT")), bench("QEMU", q), bench("isthmus", i));
        System.out.print(figures);
        Path out = Path.of("/mnt/lab/out");
        if (Files.isDirectory(out)) {
            Files.writeString(out.resolve("linux-bench.txt"), figures + "\n--- QEMU ---\n" + qemu.out
                    + "\n--- isthmus ---\n" + ours.out);
        }
    }

    private static List<String> args(Path kernel, Path initramfs, Path disk, int mib, int reads) {
        return List.of("-M", "microvm,pcie=on", "-accel", "kvm", "-m", "256M", "-display", "none", "-no-reboot",
                "-serial", "stdio", "-kernel", kernel.toString(), "-initrd", initramfs.toString(),
                "-append", "console=ttyS0 panic=-1 quiet isthmus.run=bench isthmus.bench_mib=" + mib
                        + " isthmus.randreads=" + reads,
                "-drive", "file=" + disk + ",format=raw,if=none,id=d0", "-device", "virtio-blk-device,drive=d0",
                "-device", "virtio-rng-device");
    }

    /** A raw disk of {@link #DISK_MIB} MiB whose first sector says what it is. */
    private static Path disk(Path file) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("isthmus lab disk: the guest reads this sector\n"
                    .getBytes(StandardCharsets.US_ASCII)), 0);
            ch.truncate(DISK_MIB << 20);
            ch.write(java.nio.ByteBuffer.allocate(1), (DISK_MIB << 20) - 1);
        }
        return file;
    }

    /** The guest's report lines as key → value (the first word or two before a value). */
    static Map<String, String> report(String console) {
        Map<String, String> m = new LinkedHashMap<>();
        Matcher matcher = LINE.matcher(console);
        while (matcher.find()) {
            String line = matcher.group(1).strip();
            if (line.startsWith("virtio ") || line.startsWith("pci ")) {
                String[] w = line.split(" ", 3);
                m.put(w[0] + " " + w[1], w.length > 2 ? w[2] : "");
            } else if (line.startsWith("bench ")) {
                String[] w = line.split(" ", 3);
                m.put("bench " + w[1].replaceFirst("=.*", ""), line);
            } else if (line.contains("=") && !line.startsWith("INIT") && !line.startsWith("DONE")
                    && !line.startsWith("acpi")) {
                int eq = line.indexOf('=');
                m.put(line.substring(0, eq), line.substring(eq + 1));
            } else {
                int sp = line.indexOf(' ');
                m.put(sp < 0 ? line : line.substring(0, sp), sp < 0 ? "" : line.substring(sp + 1));
            }
        }
        return m;
    }

    private static List<String> virtioOrder(String console) {
        return console.lines().filter(l -> l.startsWith("ISTHMUS-LINUX virtio ")).toList();
    }

    private static String uptime(String s) {
        return s == null ? "?" : s.replace("uptime=", "");
    }

    /** MB/s and IOPS from a report's bench lines. */
    private static String bench(String who, Map<String, String> r) {
        StringBuilder b = new StringBuilder(who + ":");
        for (String kind : List.of("seqwrite_mib", "seqread_mib")) {
            String line = r.get("bench " + kind);
            if (line != null) {
                Matcher m = Pattern.compile(kind + "=(\\d+) seconds=([0-9.]+)").matcher(line);
                if (m.find()) {
                    b.append(String.format(" %s %.1f MiB/s;", kind.replace("_mib", ""),
                            Integer.parseInt(m.group(1)) / Double.parseDouble(m.group(2))));
                }
            }
        }
        String rr = r.get("bench randread4k_reads");
        if (rr != null) {
            Matcher m = Pattern.compile("randread4k_reads=(\\d+) seconds=([0-9.]+)").matcher(rr);
            if (m.find()) {
                b.append(String.format(" randread4k %.0f IOPS", Integer.parseInt(m.group(1))
                        / Double.parseDouble(m.group(2))));
            }
        }
        return b.toString();
    }

    /** A run's serial output, its exit status and how long it took to print the init line. */
    record Run(String out, int status, long toInitNanos) {}

    /** Timestamps the first "ISTHMUS-LINUX INIT" as it is written. */
    private static final class Watch extends OutputStream {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final long start = System.nanoTime();
        volatile long initAt;
        private final byte[] marker = "ISTHMUS-LINUX INIT".getBytes(StandardCharsets.US_ASCII);
        private int matched;

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
            if (initAt == 0) {
                matched = b == marker[matched] ? matched + 1 : (b == marker[0] ? 1 : 0);
                if (matched == marker.length) {
                    initAt = System.nanoTime();
                }
            }
        }

        String text() {
            return bytes.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static Run qemu(List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64"));
        cmd.addAll(args);
        Watch w = new Watch();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(w);
        }
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "QEMU did not end");
        return new Run(w.text(), p.exitValue(), w.initAt - w.start);
    }

    private static Run isthmus(List<String> args) throws Exception {
        Watch w = new Watch();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream perr = new PrintStream(err, true, StandardCharsets.ISO_8859_1);
        FutureTask<Integer> vmm = new FutureTask<>(() -> Main.run(args.toArray(String[]::new),
                HostStdio.of(InputStream.nullInputStream(), w), new PrintStream(w, true), perr));
        Thread.ofPlatform().name("isthmus-vmm").daemon(true).start(vmm);
        int status = vmm.get(5, TimeUnit.MINUTES);
        return new Run(w.text() + err.toString(StandardCharsets.ISO_8859_1), status, w.initAt - w.start);
    }
}
