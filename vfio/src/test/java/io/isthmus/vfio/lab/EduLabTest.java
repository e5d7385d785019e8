package io.isthmus.vfio.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sys.EventFd;
import io.isthmus.sys.Libc;
import io.isthmus.vfio.IommuInfo;
import io.isthmus.vfio.IrqInfo;
import io.isthmus.vfio.RegionInfo;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioException;
import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.dma.IovaAllocator;
import io.isthmus.vfio.pci.ConfigSpace;
import io.isthmus.vfio.pci.PciCapability;
import io.isthmus.vfio.pci.PciConfig;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The VFIO API against a real device behind a real (emulated) IOMMU: QEMU's edu inside the lab guest
 * ({@code -device intel-iommu,caching-mode=on -device edu}, {@code intel_iommu=on}, edu bound to vfio-pci).
 *
 * <p>Tagged {@code lab}: excluded from the host's surefire run (vfio/pom.xml {@code excludedGroups}); the lab
 * harness runs it inside the guest, as root, with native access enabled.
 */
@Tag("lab")
class EduLabTest {
    private static final int FACTORIAL_ARG = 10;

    @Test
    void discoversRegionsIrqsAndTheIommu() {
        try (Edu edu = Edu.open()) {
            assertTrue(edu.device.isPci());
            RegionInfo bar0 = edu.device.region(0);
            assertEquals(1 << 20, bar0.size(), "edu's BAR0 is 1 MiB");
            assertTrue(bar0.readable() && bar0.writable() && bar0.mappable(), bar0.describe());
            assertEquals(1 << 20, edu.bar0.byteSize());
            RegionInfo config = edu.device.region(7);
            assertTrue(config.size() >= 256, config.describe());
            assertEquals(1, edu.device.irq(IrqInfo.MSI).count(), "edu has one MSI vector");
            assertTrue(edu.device.irq(IrqInfo.INTX).eventfd());
            IommuInfo io = edu.container.iommuInfo();
            assertTrue((io.pageSizes() & 4096) != 0, "4 KiB IOMMU pages: 0x" + Long.toHexString(io.pageSizes()));
            assertFalse(io.iovaRanges().isEmpty(), "kernel 5.4 and later report IOVA ranges");
            assertFalse(io.usable(0xfee00000L, 4096), "the x86 MSI window is reserved: " + io.iovaRanges());
            // Config space through VFIO parses like sysfs' copy: same ids, MSI at the same place.
            ConfigSpace cfg = ConfigSpace.of(edu.device.readConfig());
            assertEquals(Edu.VENDOR, cfg.vendorId());
            assertEquals(Edu.DEVICE, cfg.deviceId());
            assertTrue(cfg.capabilities().stream().anyMatch(c -> c instanceof PciCapability.Msi));
        }
    }

    @Test
    void identificationRegister() {
        try (Edu edu = Edu.open()) {
            assertEquals(0x010000ed, edu.read(Edu.ID));
        }
    }

    @Test
    void livenessReturnsTheBitwiseNot() {
        try (Edu edu = Edu.open()) {
            for (int x : new int[] {0, 0x12345678, 0xffffffff, 0xa5a5a5a5}) {
                edu.write(Edu.LIVENESS, x);
                assertEquals(~x, edu.read(Edu.LIVENESS), "liveness of 0x" + Integer.toHexString(x));
            }
        }
    }

    @Test
    void factorialThroughMmioSignalsCompletionByMsiOnAnEventfd() {
        try (Edu edu = Edu.open(); EventFd msi = EventFd.create(Libc.EFD_NONBLOCK, "edu msi")) {
            edu.device.enableIrq(IrqInfo.MSI, 0, msi);
            edu.write(Edu.STATUS, Edu.STATUS_IRQ_ON_FACTORIAL);
            edu.write(Edu.FACTORIAL, FACTORIAL_ARG);
            long count = msi.await(10_000);
            assertTrue(count >= 1, "no MSI on the eventfd within 10 s of starting the factorial");
            assertEquals(0, edu.read(Edu.STATUS) & Edu.STATUS_COMPUTING);
            assertEquals(3628800, edu.read(Edu.FACTORIAL), "10!");
            assertEquals(Edu.IRQ_FACTORIAL, edu.read(Edu.IRQ_STATUS) & Edu.IRQ_FACTORIAL);
            edu.write(Edu.IRQ_ACK, Edu.IRQ_FACTORIAL);
            edu.write(Edu.STATUS, 0);
            edu.device.disableIrq(IrqInfo.MSI);
        }
    }

    @Test
    void intxIsAutomaskedAndUnmaskRearmsIt() {
        try (Edu edu = Edu.open(); EventFd intx = EventFd.create(Libc.EFD_NONBLOCK, "edu intx")) {
            Assumptions.assumeTrue(edu.device.irq(IrqInfo.INTX).count() == 1, "edu has no INTx pin here");
            edu.device.enableIrq(IrqInfo.INTX, 0, intx);
            edu.write(Edu.IRQ_RAISE, 0x40);
            assertTrue(intx.await(5_000) >= 1, "no INTx on the eventfd");
            edu.write(Edu.IRQ_ACK, 0x40);
            // Masked: a raised interrupt is held back.
            edu.device.unmaskIrq(IrqInfo.INTX, 0, 1);
            edu.device.maskIrq(IrqInfo.INTX, 0, 1);
            edu.write(Edu.IRQ_RAISE, 0x40);
            assertEquals(0, intx.await(300), "INTx delivered while masked");
            // Unmasking with the line still asserted delivers it.
            edu.device.unmaskIrq(IrqInfo.INTX, 0, 1);
            assertTrue(intx.await(5_000) >= 1, "no INTx after unmask");
            edu.write(Edu.IRQ_ACK, 0x40);
            edu.device.disableIrq(IrqInfo.INTX);
        }
    }

    @Test
    void dmaRamToDeviceToRamThroughTheIommu() throws Exception {
        try (Edu edu = Edu.open(); DmaBuffer buf = DmaBuffer.anonymous(8192)) {
            IovaAllocator iovas = edu.iovas();
            long iova = iovas.allocate(buf.size(), 0);
            assertTrue(iova + buf.size() <= 1L << Edu.DMA_BITS);
            MemorySegment mem = buf.segment();
            byte[] pattern = pattern(Edu.DMA_LEN, 7);
            MemorySegment.copy(pattern, 0, mem, ValueLayout.JAVA_BYTE, 0, Edu.DMA_LEN);
            buf.mapTo(edu.container, iova);
            edu.dma(iova, Edu.DMA_BUFFER, Edu.DMA_LEN, 0); // RAM -> device
            edu.dma(Edu.DMA_BUFFER, iova + 4096, Edu.DMA_LEN, Edu.DMA_TO_RAM); // device -> RAM
            assertArrayEquals(pattern, readVolatile(mem.asSlice(4096, Edu.DMA_LEN)), "second page = first, via edu");
        }
    }

    @Test
    void dmaToAnUnmappedIovaIsBlockedAndReportedThenReuseWorks() throws Exception {
        try (Edu edu = Edu.open(); DmaBuffer buf = DmaBuffer.anonymous(4096)) {
            IovaAllocator iovas = edu.iovas();
            long iova = iovas.allocate(4096, 0);
            MemorySegment mem = buf.segment();
            byte[] first = pattern(Edu.DMA_LEN, 3), second = pattern(Edu.DMA_LEN, 11);
            // Load the device buffer with `second` from a scratch mapping.
            try (DmaBuffer scratch = DmaBuffer.anonymous(4096)) {
                long s = iovas.allocate(4096, 0);
                MemorySegment.copy(second, 0, scratch.segment(), ValueLayout.JAVA_BYTE, 0, Edu.DMA_LEN);
                try (var m = edu.container.map(scratch.segment(), s, true, true)) {
                    edu.dma(m.iova(), Edu.DMA_BUFFER, Edu.DMA_LEN, 0);
                }
                iovas.free(s);
            }
            MemorySegment.copy(first, 0, mem, ValueLayout.JAVA_BYTE, 0, Edu.DMA_LEN);
            String before = kernelLog();
            // Not mapped: the IOMMU must block the write and the kernel must log a DMA fault for edu.
            edu.dma(Edu.DMA_BUFFER, iova, Edu.DMA_LEN, Edu.DMA_TO_RAM);
            assertArrayEquals(first, readVolatile(mem.asSlice(0, Edu.DMA_LEN)),
                    "host memory changed by a DMA to an unmapped IOVA");
            String fault = waitForNewLine(before, "DMAR", edu.pci.address().toString().substring(5), 3_000);
            assertTrue(fault != null, "no DMAR fault naming " + edu.pci.address() + " in the kernel log");
            // Map, DMA, unmap, and map the same IOVA again: reuse works and lands in memory.
            var mapping = edu.container.map(mem, iova, true, true);
            mapping.close();
            try (var again = edu.container.map(mem, iova, true, true)) {
                edu.dma(Edu.DMA_BUFFER, iova, Edu.DMA_LEN, Edu.DMA_TO_RAM);
                assertArrayEquals(second, readVolatile(mem.asSlice(0, Edu.DMA_LEN)),
                        "DMA after unmap + remap of the same IOVA");
            }
            // An overlapping map is refused by the kernel, named after the step.
            try (var m = edu.container.map(mem, iova, true, true)) {
                VfioException e = assertThrows(VfioException.class, () -> edu.container.map(mem, iova, true, true));
                assertEquals(VfioException.Step.IOMMU_DMA_MAP, e.step());
                assertEquals(io.isthmus.sys.Errno.EEXIST, e.errno());
            }
        }
    }

    @Test
    void dmaCompletionInterruptWithMsi() throws Exception {
        try (Edu edu = Edu.open(); DmaBuffer buf = DmaBuffer.anonymous(4096);
                EventFd msi = EventFd.create(Libc.EFD_NONBLOCK, "edu dma msi")) {
            long iova = edu.iovas()
                    .allocate(4096, 0);
            buf.mapTo(edu.container, iova);
            edu.device.enableIrq(IrqInfo.MSI, 0, msi);
            edu.dma(iova, Edu.DMA_BUFFER, 64, Edu.DMA_IRQ);
            assertTrue(msi.await(5_000) >= 1, "no MSI after DMA with the interrupt bit");
            assertEquals(Edu.IRQ_DMA, edu.read(Edu.IRQ_STATUS) & Edu.IRQ_DMA);
            edu.write(Edu.IRQ_ACK, Edu.IRQ_DMA);
            edu.device.disableIrq(IrqInfo.MSI);
        }
    }

    @Test
    void resetLeavesAWorkingDeviceOrSaysWhyItCannot() {
        try (Edu edu = Edu.open()) {
            edu.write(Edu.LIVENESS, 0x55);
            if (edu.device.canReset()) {
                edu.device.reset();
                // After a reset, the BAR is still mapped and the device answers (re-enable decoding first).
                edu.device.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
                assertEquals(0x010000ed, edu.read(Edu.ID));
                edu.write(Edu.LIVENESS, 1);
                assertEquals(~1, edu.read(Edu.LIVENESS));
            } else {
                VfioException e = assertThrows(VfioException.class, edu.device::reset);
                assertEquals(VfioException.Step.DEVICE_RESET, e.step());
                assertTrue(e.getMessage().contains("does not support reset"), e.getMessage());
            }
        }
    }

    @Test
    void aGroupOpenElsewhereIsBusyWithAClearError() {
        try (Edu edu = Edu.open(); VfioContainer second = VfioContainer.open()) {
            int group = edu.pci.iommuGroup().orElseThrow();
            VfioException e = assertThrows(VfioException.class, () -> second.group(group));
            assertEquals(VfioException.Step.OPEN_GROUP, e.step());
            assertEquals(io.isthmus.sys.Errno.EBUSY, e.errno());
            assertTrue(e.getMessage().contains("already open"), e.getMessage());
        }
    }

    @Test
    void barMappingsDieWithTheDevice() {
        MemorySegment bar;
        try (Edu edu = Edu.open()) {
            bar = edu.bar0;
            assertEquals(0x010000ed, edu.read(Edu.ID));
        }
        assertThrows(IllegalStateException.class, () -> bar.get(ValueLayout.JAVA_INT, 0));
    }

    @Test
    void aNonViableGroupIsRefusedNamingItsDevices() {
        // The lab's second edu shares an IOMMU group with an e1000 (both behind one PCI bridge): edu is bound to
        // vfio-pci, e1000 to its kernel driver, so the kernel clears VFIO_GROUP_FLAGS_VIABLE for the group.
        String env = System.getenv("ISTHMUS_LAB_NONVIABLE_GROUP");
        assertTrue(env != null && !env.isBlank(), "ISTHMUS_LAB_NONVIABLE_GROUP is not set: the lab's /init names"
                + " the IOMMU group of its second edu (behind the PCI bridge with an e1000)");
        int group = Integer.parseInt(env.strip());
        SysfsPci sysfs = SysfsPci.system();
        List<PciDevice> members = sysfs.groupMembers(group).stream().map(sysfs::require).toList();
        assertTrue(members.stream().anyMatch(PciDevice::boundToVfio), "no vfio-pci device in group " + group
                + ": " + sysfs.describeGroup(group));
        assertTrue(members.stream().anyMatch(d -> d.driver().filter("e1000"::equals).isPresent()),
                "no device driven by e1000 in group " + group + ": " + sysfs.describeGroup(group));
        assertFalse(members.stream().anyMatch(d -> d.address().equals(Edu.find().address())),
                "the main edu must not be in the non-viable group " + group);
        try (VfioContainer c = VfioContainer.open()) {
            VfioException e = assertThrows(VfioException.class, () -> c.group(group));
            assertEquals(VfioException.Step.GROUP_NOT_VIABLE, e.step(), e.getMessage());
            assertTrue(e.getMessage().contains("IOMMU group " + group + " is not viable"), e.getMessage());
            assertTrue(e.getMessage().contains("(e1000)"), "the error names the device with a kernel driver: "
                    + e.getMessage());
        }
        // The refused group's fd was closed, not leaked: a second try is refused for the same reason, not EBUSY.
        try (VfioContainer c = VfioContainer.open()) {
            VfioException e = assertThrows(VfioException.class, () -> c.group(group));
            assertEquals(VfioException.Step.GROUP_NOT_VIABLE, e.step(), e.getMessage());
        }
    }

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * seed + (i >> 8));
        }
        return b;
    }

    /** Reads DMA-written memory with volatile loads: the device writes behind the JIT's back. */
    private static byte[] readVolatile(MemorySegment m) {
        byte[] out = new byte[(int) m.byteSize()];
        var vh = ValueLayout.JAVA_BYTE.varHandle();
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) vh.getVolatile(m, (long) i);
        }
        return out;
    }

    static String kernelLog() throws IOException, InterruptedException {
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

    /** A kernel-log line containing both words that was not in {@code before}, waiting up to {@code ms}. */
    static String waitForNewLine(String before, String a, String b, long ms) throws Exception {
        long deadline = System.nanoTime() + ms * 1_000_000;
        do {
            for (String line : kernelLog().split("\n")) {
                if (line.contains(a) && line.contains(b) && !before.contains(line)) {
                    return line;
                }
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        return null;
    }
}
