package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code -device vfio-pci} end to end in the lab, where QEMU's edu (1234:11e8) sits behind an emulated Intel IOMMU,
 * bound to vfio-pci, at the address in {@code ISTHMUS_LAB_EDU}: this VMM passes it through to a KVM guest whose
 * driver (vmm/src/test/guests/edu.c) uses it as on bare metal (identification, factorial with its MSI, DMA through
 * guest RAM with its MSI) and then aims a DMA outside its RAM, which the IOMMU must stop. The second edu of the lab,
 * in a group that is not viable ({@code ISTHMUS_LAB_NONVIABLE_GROUP}), is refused before the guest starts, and so is
 * edu while another user holds its group open.
 */
@Tag("kvm")
class VfioPassthroughTest {
    private static final int PASSED = (0x51 << 1) | 1;

    private static String edu() {
        String edu = System.getenv("ISTHMUS_LAB_EDU");
        assertNotNull(edu, "ISTHMUS_LAB_EDU is not set: this test runs in the lab, where edu is bound to vfio-pci");
        return edu;
    }

    private static TestGuests.Result run(String append, String... devices) {
        return run(List.of(), append, devices);
    }

    private static TestGuests.Result run(List<String> options, String append, String... devices) {
        List<String> args = new ArrayList<>(options);
        args.addAll(List.of("-M", "pcie=on", "-m", "64M", "-serial", "stdio", "-kernel",
                TestGuests.guest("edu.elf").toString(), "-append", append));
        for (String d : devices) {
            args.add("-device");
            args.add(d);
        }
        args.addAll(TestGuests.EXIT_DEVICE);
        return TestGuests.isthmus(args);
    }

    @Test
    void theGuestDriverUsesEduAsOnBareMetalAndTheIommuStopsItsEscape() throws Exception {
        String before = kernelLog();
        TestGuests.Result r = run(List.of("-d", "guest_errors"), "escape", "vfio-pci,host=" + edu());
        String out = r.out().replace("\r\n", "\n");
        assertEquals(PASSED, r.status(), out + "\nstderr: " + r.stderr());
        assertTrue(out.contains("bar0 size=0x100000 type=0x0\n"), out);
        assertTrue(out.contains("id=0x10000ed\nidentification: ok\nliveness: ok\n"), out);
        assertTrue(out.contains("factorial 10!=3628800 msi=1 irq_status=0x1\n"), out);
        assertTrue(out.contains("factorial msi: ok\n"), out);
        assertTrue(out.contains(" -> edu -> 0x") && out.contains(": done=1 equal=1 msi=1 irq_status=0x100\n"), out);
        assertTrue(out.contains("dma msi: ok\n"), out);
        assertTrue(out.contains("escape dma to 0xc000000: done=1\nafter escape: ok\n"), out);
        assertTrue(out.endsWith("edu guest passed\n"), out);
        // BAR0 is a memory slot: none of the driver's register accesses above (identification, liveness,
        // factorial, DMA, interrupt status and acknowledgement) exited to this VMM. edu has MSI, not MSI-X, so no
        // access at all may trap; the count is the BAR trap's (VfioBar), which every KVM_EXIT_MMIO in BAR0 reaches.
        assertTrue(r.stderr().contains("vfio " + edu() + ": VM exits at BARs: BAR0 0 (MSI-X table/PBA 0)\n"),
                r.stderr());
        // The escaping write reached no memory: the IOMMU faulted it, naming edu.
        String bdf = edu().substring(5);
        String fault = null;
        for (int i = 0; i < 60 && fault == null; i++) {
            for (String line : kernelLog().split("\n")) {
                if (line.contains("DMAR") && line.contains(bdf) && !before.contains(line)) {
                    fault = line;
                }
            }
            Thread.sleep(50);
        }
        assertNotNull(fault, "no DMAR fault naming " + bdf + " in the kernel log after the guest's escape");
        // The device was left bound to vfio-pci, reusable: a second VM uses it again, and again after a system
        // reset (the guest's ACPI reset register), which resets edu and the guest's view of it (BARs unplaced).
        TestGuests.Result again = run("reset", "vfio-pci,host=" + edu());
        String out2 = again.out().replace("\r\n", "\n");
        assertEquals(PASSED, again.status(), out2 + "\nstderr: " + again.stderr());
        assertTrue(out2.contains("edu guest passed\nresetting\nedu guest\nafter the reset\n"), out2);
        assertEquals(2, out2.split("factorial 10!=3628800 msi=1 irq_status=0x1\n", -1).length - 1, out2);
        assertEquals(2, out2.split(": done=1 equal=1 msi=1 irq_status=0x100\n", -1).length - 1, out2);
        assertTrue(out2.endsWith("edu guest passed\n"), out2);
        assertEquals(2, out2.split("edu guest passed\n", -1).length - 1, out2);
    }

    /**
     * QEMU 7.2's {@code query-pci} entry for edu ({@code -M microvm,pcie=on -device edu}, its BAR placed at
     * 0xc0000000 as this guest places it), less {@code irq} (QEMU's interrupt-line register, present because
     * QEMU's edu has pin 1).
     */
    private static final String QEMU_EDU = "{\"irq_pin\": 1, \"bus\": 0, \"qdev_id\": \"\", \"slot\": 1,"
            + " \"class_info\": {\"class\": 255}, \"id\": {\"device\": 4584, \"subsystem-vendor\": 6900,"
            + " \"vendor\": 4660, \"subsystem\": 4352}, \"function\": 0, \"regions\": [{\"prefetch\": false,"
            + " \"mem_type_64\": false, \"bar\": 0, \"size\": 1048576, \"address\": 3221225472,"
            + " \"type\": \"memory\"}]}";

    @Test
    void queryPciShowsEduWithItsBarWhereTheGuestPlacedIt() throws Exception {
        Path sock = TestGuests.scratch().resolve("vfio-qmp.sock");
        Files.deleteIfExists(sock);
        java.util.concurrent.CompletableFuture<TestGuests.Result> vm = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> run(List.of("-qmp", "unix:" + sock + ",server=on,wait=off"), "hold",
                        "vfio-pci,host=" + edu()));
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.JsonNode edu = null;
        try (java.nio.channels.SocketChannel ch = connect(sock, vm)) {
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                    java.nio.channels.Channels.newInputStream(ch), StandardCharsets.UTF_8));
            java.io.OutputStream out = java.nio.channels.Channels.newOutputStream(ch);
            in.readLine(); // the greeting
            out.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes(StandardCharsets.UTF_8));
            in.readLine();
            try {
                // Until the guest has placed BAR0 and turned decoding on (it then holds: "holding").
                for (int i = 0; i < 600 && edu == null; i++) {
                    out.write("{\"execute\":\"query-pci\"}\n".getBytes(StandardCharsets.UTF_8));
                    com.fasterxml.jackson.databind.JsonNode reply = json.readTree(in.readLine()).get("return");
                    assertEquals(1, reply.size(), reply.toString());
                    assertEquals(0, reply.get(0).get("bus").asInt(), reply.toString());
                    com.fasterxml.jackson.databind.JsonNode devices = reply.get(0).get("devices");
                    assertEquals(2, devices.size(), "the host bridge and edu: " + reply);
                    if (devices.get(1).get("regions").get(0).get("address").asLong() != -1) {
                        edu = devices.get(1);
                    } else {
                        Thread.sleep(50);
                    }
                }
                if (edu != null) {
                    Thread.sleep(2000); // the guest prints its placement after turning decoding on: let it
                }
            } finally {
                // The held VM ends whatever the replies were: it holds edu, which the next test needs.
                out.write("{\"execute\":\"quit\"}\n".getBytes(StandardCharsets.UTF_8));
            }
        }
        TestGuests.Result r = vm.get(120, TimeUnit.SECONDS);
        String out = r.out().replace("\r\n", "\n");
        // The test quits as soon as query-pci shows BAR0 decoding, which may be before the guest's driver is done
        // (it prints "holding" then): what matters here is that the guest had placed BAR0 where query-pci says.
        assertTrue(out.contains("bar0 at 0xc0000000 command=0x6\n"), out + "\nstderr: " + r.stderr());
        assertNotNull(edu, "BAR0 never decoded in query-pci: " + out);
        // As QEMU's but for the pin: this VMM offers no INTx for a passthrough function (pin 0, so no irq).
        assertEquals(json.readTree(QEMU_EDU.replace("\"irq_pin\": 1", "\"irq_pin\": 0")),
                json.readTree(json.writeValueAsString(edu)));
    }

    @Test
    void aDeviceInAGroupThatIsNotViableIsRefusedBeforeTheGuestStarts() throws IOException {
        String group = System.getenv("ISTHMUS_LAB_NONVIABLE_GROUP");
        assertNotNull(group, "ISTHMUS_LAB_NONVIABLE_GROUP is not set");
        String second;
        try (Stream<Path> s = Files.list(Path.of("/sys/kernel/iommu_groups", group, "devices"))) {
            second = s.filter(p -> read(p.resolve("vendor")).equals("0x1234") && read(p.resolve("device"))
                    .equals("0x11e8")).map(p -> p.getFileName().toString()).findFirst().orElseThrow();
        }
        TestGuests.Result r = run("", "vfio-pci,host=" + second);
        assertEquals(1, r.status(), r.out());
        assertTrue(r.stderr().startsWith("isthmus-vmm: -device vfio-pci,host=" + second + ": vfio " + second
                + ": group " + group + " is not viable: "), r.stderr());
        assertTrue(r.stderr().contains("Please ensure all devices within the iommu_group are bound to their vfio bus"
                + " driver."), r.stderr());
        assertEquals("", r.out(), "the guest never ran");
    }

    @Test
    void aDeviceInUseByAnotherProcessIsRefused() throws IOException {
        String group = Files.readSymbolicLink(Path.of("/sys/bus/pci/devices", edu(), "iommu_group")).getFileName()
                .toString();
        // Another user holds edu's group open (this JVM, through the vfio module, as another VMM would).
        try (io.isthmus.vfio.VfioContainer other = io.isthmus.vfio.VfioContainer.open()) {
            other.device(io.isthmus.vfio.PciAddress.parse(edu()));
            TestGuests.Result r = run("", "vfio-pci,host=" + edu());
            assertEquals(1, r.status(), r.out());
            assertTrue(r.stderr().startsWith("isthmus-vmm: -device vfio-pci,host=" + edu() + ": vfio " + edu()
                    + ": group " + group + " is in use by another process ("), r.stderr());
            assertTrue(r.stderr().contains("EBUSY"), r.stderr());
        }
        // Released, it works again (the guest's own checks are the end-to-end test's).
        TestGuests.Result r = run("", "vfio-pci,host=" + edu());
        assertEquals(PASSED, r.status(), r.out() + "\nstderr: " + r.stderr());
    }

    @Test
    void theSameDeviceTwiceIsRefused() {
        TestGuests.Result r = run("", "vfio-pci,host=" + edu(), "vfio-pci,sysfsdev=/sys/bus/pci/devices/" + edu());
        assertEquals(1, r.status(), r.out());
        assertEquals("isthmus-vmm: -device vfio-pci,sysfsdev=/sys/bus/pci/devices/" + edu() + ": vfio " + edu()
                + ": device is already attached (it is given twice)\n", r.stderr());
    }

    /** The VMM's QMP socket, once it listens (the file exists from bind, before listen). */
    private static java.nio.channels.SocketChannel connect(Path sock, java.util.concurrent.Future<?> vm)
            throws Exception {
        for (int i = 0; ; i++) {
            try {
                return java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(sock));
            } catch (IOException e) {
                if (i >= 600 || vm.isDone()) {
                    throw new AssertionError("no QMP socket at " + sock + (vm.isDone() ? ": " + vm.get() : ""), e);
                }
                Thread.sleep(50);
            }
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException e) {
            return "";
        }
    }

    private static String kernelLog() throws IOException, InterruptedException {
        for (List<String> cmd : List.of(List.of("dmesg"), List.of("busybox", "dmesg"))) {
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return out;
                }
            } catch (IOException tryNext) {
                // not on PATH; try the next form
            }
        }
        throw new AssertionError("cannot read the kernel log (dmesg)");
    }
}
