package io.isthmus.lab.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.lab.LabImage;
import io.isthmus.vmm.Main;
import io.isthmus.vmm.machine.HostStdio;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Debian's kernel (the lab's own, {@link LabImage}) on this VMM with the lab's edu passed through
 * ({@code -device vfio-pci,host=$ISTHMUS_LAB_EDU}): the kernel enumerates it on the PCI bus as the real device it is
 * (1234:11e8, class 00ff00) and assigns its 1 MiB BAR0 in the 32-bit window, as it would on bare metal. Runs only
 * inside the lab, where edu is bound to vfio-pci.
 */
@Tag("kvm")
class LinuxVfioPassthroughTest {
    @Test
    void debiansKernelEnumeratesThePassedThroughEdu() throws Exception {
        String edu = System.getenv("ISTHMUS_LAB_EDU");
        assertNotNull(edu, "ISTHMUS_LAB_EDU is not set: this test runs in the lab, where edu is bound to vfio-pci");
        Path kernel = Path.of(LabImage.GUEST_LINUX, "vmlinuz"), initramfs = Path.of(LabImage.GUEST_LINUX,
                "initramfs.cpio");
        List<String> args = List.of("-M", "microvm,pcie=on", "-accel", "kvm", "-m", "256M", "-display", "none",
                "-no-reboot", "-serial", "stdio", "-kernel", kernel.toString(), "-initrd", initramfs.toString(),
                "-append", "console=ttyS0 panic=-1 quiet isthmus.run=smoke", "-device", "vfio-pci,host=" + edu);
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream pout = new PrintStream(out, true, StandardCharsets.ISO_8859_1);
        FutureTask<Integer> vmm = new FutureTask<>(() -> Main.run(args.toArray(String[]::new),
                HostStdio.of(InputStream.nullInputStream(), out), pout,
                new PrintStream(err, true, StandardCharsets.ISO_8859_1)));
        Thread.ofPlatform().name("isthmus-vmm").daemon(true).start(vmm);
        int status = vmm.get(5, TimeUnit.MINUTES);
        String console = out.toString(StandardCharsets.ISO_8859_1) + err.toString(StandardCharsets.ISO_8859_1);
        Map<String, String> r = LinuxBootTest.report(console);
        assertEquals(0, status, "exit status (ACPI power-off):\n" + console);
        assertTrue(r.containsKey("DONE"), "the guest ran to its end:\n" + console);
        assertEquals("2", r.get("pci_devices"), "the host bridge and edu:\n" + console);
        String f = r.get("pci 0000:00:01.0");
        assertNotNull(f, console);
        assertTrue(f.startsWith("0x1234:0x11e8 class=0x00ff00 bar0=0x00000000c"), f);
        long bar0 = Long.parseUnsignedLong(f.replaceFirst(".*bar0=0x", "").replaceFirst(" .*", ""), 16);
        assertTrue(bar0 >= 0xc0000000L && bar0 < 0xe0000000L && bar0 % (1 << 20) == 0,
                "BAR0 (1 MiB) in the 32-bit window, naturally aligned: 0x" + Long.toHexString(bar0));
        System.out.println("linux with edu passed through: pci 0000:00:01.0 " + f);
    }
}
