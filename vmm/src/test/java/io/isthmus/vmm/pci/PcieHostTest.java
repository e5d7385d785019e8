package io.isthmus.vmm.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vmm.device.Unassigned;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The host bridge of {@code -M microvm,pcie=on} driven as a guest drives it: configuration accesses through ECAM on
 * the machine's MMIO bus, BARs programmed, moved and read through the windows, MSI-X programmed in the table and
 * fired by the test function, INTx lines. Values are QEMU's unless said otherwise.
 */
class PcieHostTest {
    static final long ECAM = 0xe000_0000L, MMIO32 = 0xc000_0000L, MMIO64 = 0xc0_0000_0000L; // 40-bit guest
    static final int TESTDEV = 0x08; // 00:01.0, the first free slot

    final TestPlatform p = new TestPlatform();
    final FakeMsiRouter router = new FakeMsiRouter();
    final List<String> unassigned = new ArrayList<>();
    PcieHost host;

    PcieHost host(int physBits, PciFunction... functions) {
        host = new PcieHost(PcieLayout.microvm(physBits), router, new Unassigned.Reports(unassigned::add));
        for (PciFunction f : functions) {
            host.add(-1, f);
        }
        host.plug(p);
        return host;
    }

    long cfg(int devfn, int reg, int size) {
        return p.mmio.read(ECAM + ((long) devfn << 12) + reg, size);
    }

    void cfg(int devfn, int reg, int size, long value) {
        p.mmio.write(ECAM + ((long) devfn << 12) + reg, size, value);
    }

    /** Programs the test function's BARs (0 at {@code bar0}, 2 at {@code bar2}) and turns memory decoding on. */
    void place(int devfn, long bar0, long bar2) {
        cfg(devfn, 0x10, 4, bar0);
        cfg(devfn, 0x18, 4, bar2 & 0xffffffffL);
        cfg(devfn, 0x1c, 4, bar2 >>> 32);
        cfg(devfn, 0x04, 2, Pci.COMMAND_MEMORY | Pci.COMMAND_MASTER);
    }

    @Test
    void windowsAndEcamAreWhereQemuPutsThem() {
        host(40);
        List<String> ranges = p.mmio.describe();
        assertTrue(ranges.contains("[0xc0000000-0xe0000000) pcie-mmio32"), ranges.toString());
        assertTrue(ranges.contains("[0xe0000000-0xf0000000) pcie-ecam"), ranges.toString());
        assertTrue(ranges.contains("[0xc000000000-0x10000000000) pcie-mmio64"), ranges.toString());
    }

    @Test
    void hostBridgeIsQemusGpexRoot() {
        host(40);
        assertEquals(0x0008_1b36L, cfg(0, 0x00, 4));
        assertEquals(0x0600_0000L, cfg(0, 0x08, 4), "class host bridge, revision 0");
        assertEquals(0x0000_0000L, cfg(0, 0x0c, 4), "header type 0, single function");
        assertEquals(0x1100_1af4L, cfg(0, 0x2c, 4), "QEMU's default subsystem");
        assertEquals(0, cfg(0, 0x34, 1), "no capabilities");
        assertEquals(0, cfg(0, 0x3d, 1), "no interrupt pin");
        for (int bar = 0x10; bar < 0x28; bar += 4) {
            cfg(0, bar, 4, 0xffffffffL);
            assertEquals(0, cfg(0, bar, 4), "no BAR at 0x" + Integer.toHexString(bar));
        }
    }

    @Test
    void writableBitsAsQemusDefaultMasks() {
        host(40);
        cfg(0, 0x04, 4, 0xffffffffL);
        assertEquals(0x0000_0507L, cfg(0, 0x04, 4), "command: I/O, memory, master, SERR, INTx disable; status W1C");
        cfg(0, 0x0c, 4, 0xffffffffL);
        assertEquals(0x0000_00ffL, cfg(0, 0x0c, 4), "cache line size only");
        cfg(0, 0x3c, 4, 0xffffffffL);
        assertEquals(0x0000_00ffL, cfg(0, 0x3c, 4), "interrupt line only");
        cfg(0, 0x00, 4, 0);
        assertEquals(0x0008_1b36L, cfg(0, 0x00, 4), "ids are read-only");
        cfg(0, 0x40, 4, 0x12345678L);
        assertEquals(0x1234_5678L, cfg(0, 0x40, 4), "device-specific space is writable, as QEMU makes it");
        cfg(0, 0xfe, 2, 0xabcd);
        assertEquals(0xabcd, cfg(0, 0xfe, 2));
    }

    @Test
    void absentFunctionsAndOutOfRangeRegistersReadAllOnes() {
        host(40);
        assertEquals(0xffffffffL, cfg(TESTDEV, 0, 4));
        assertEquals(0xffffL, cfg(TESTDEV, 0, 2));
        assertEquals(0xffL, cfg(TESTDEV, 2, 1));
        assertEquals(0xffffffffL, cfg(0x01, 0, 4), "00:00.1");
        assertEquals(0xffffffffL, p.mmio.read(ECAM + (1 << 20), 4), "bus 1: there are no bridges");
        assertEquals(0xffffffffL, p.mmio.read(ECAM + (255L << 20) + (255 << 12) + 0xffc, 4), "the last register");
        assertEquals(0xffffffffL, cfg(0, 0x100, 4), "past a conventional function's 256 bytes");
        assertEquals(0xffffL, cfg(0, 0xffe, 2));
        cfg(TESTDEV, 0x04, 2, 0xffff); // dropped, nothing to check but that nothing breaks
        assertEquals(0xffffffffL, cfg(TESTDEV, 0x04, 4));
    }

    @Test
    void unalignedAccessesReachTheBytesTheyCover() {
        // QEMU under a guest: "unaligned word 0x01=0x81b", "unaligned dword 0x02=0x8" (see PciGuestTest).
        host(40);
        assertEquals(0x081b, cfg(0, 0x01, 2));
        assertEquals(0x0000_0008, cfg(0, 0x02, 4));
        assertEquals(0x0000, cfg(0, 0xfe, 4), "cut at the end of the 256 bytes: the cut bytes read 0");
        cfg(0, 0x3b, 2, 0x5aff);
        assertEquals(0x5a, cfg(0, 0x3c, 1), "an unaligned write reaches the interrupt line");
        cfg(0, 0x04, 2, Pci.COMMAND_MEMORY);
        assertEquals(0x0000_0002_0008_1b36L, cfg(0, 0x00, 8), "an 8-byte read is two 4-byte ones");
        assertEquals(0x0000_0000_0000_0000L, cfg(0, 0x34, 8) & 0xffff_ffff_0000_0000L);
        assertEquals(0x0000_005a_0000_0000L, cfg(0, 0x38, 8));
        assertEquals(0xffff_ffff_0000_0000L | cfg(0, 0xfc, 4), cfg(0, 0xfc, 8), "the next 4 bytes are past 0x100");
    }

    @Test
    void testFunctionHeaderBarSizingAndCapabilityList() {
        host(40, new IsthmusTestDevice(128L << 30, 8));
        assertEquals(0x7e57_1234L, cfg(TESTDEV, 0x00, 4));
        assertEquals(0xff00_0000L, cfg(TESTDEV, 0x08, 4));
        assertEquals(0x01, cfg(TESTDEV, 0x3d, 1), "INTA");
        // Sizing, as Linux's __pci_read_base: decoding off, all ones written, the mask read back.
        assertEquals(0, cfg(TESTDEV, 0x10, 4), "BAR0: 32-bit memory, unassigned");
        assertEquals(0x0c, cfg(TESTDEV, 0x18, 4), "BAR2: 64-bit prefetchable, unassigned");
        for (int bar = 0x10; bar < 0x28; bar += 4) {
            cfg(TESTDEV, bar, 4, 0xffffffffL);
        }
        assertEquals(0xffff_c000L, cfg(TESTDEV, 0x10, 4), "16 KiB");
        assertEquals(0, cfg(TESTDEV, 0x14, 4), "no BAR1");
        assertEquals(0x0000_000cL, cfg(TESTDEV, 0x18, 4), "128 GiB: no writable bit in the low half");
        assertEquals(0xffff_ffe0L, cfg(TESTDEV, 0x1c, 4), "128 GiB = 2^37: bits 37-63 writable");
        assertEquals(0, cfg(TESTDEV, 0x20, 4));
        assertEquals(0, cfg(TESTDEV, 0x24, 4));
        // The capability list: status bit 4, then MSI-X, then MSI.
        assertEquals(Pci.STATUS_CAP_LIST, cfg(TESTDEV, 0x06, 2) & Pci.STATUS_CAP_LIST);
        List<Integer> ids = new ArrayList<>();
        for (int at = (int) cfg(TESTDEV, 0x34, 1); at != 0; at = (int) cfg(TESTDEV, at + 1, 1)) {
            ids.add((int) cfg(TESTDEV, at, 1));
            assertTrue(ids.size() < 4, "the list ends");
        }
        assertEquals(List.of(Pci.CAP_ID_MSIX, Pci.CAP_ID_MSI), ids);
        int msix = (int) cfg(TESTDEV, 0x34, 1);
        assertEquals(7, cfg(TESTDEV, msix + 2, 2), "8 vectors, disabled, not masked");
        assertEquals(0x2000, cfg(TESTDEV, msix + 4, 4), "table at 0x2000 in BAR0");
        assertEquals(0x3000, cfg(TESTDEV, msix + 8, 4), "PBA at 0x3000 in BAR0");
    }

    @Test
    void barsDecodeOnlyWithMemoryDecodingOnAndFollowTheGuestsAddress() {
        host(40, new IsthmusTestDevice(1L << 20, 8));
        cfg(TESTDEV, 0x10, 4, MMIO32);
        assertEquals(0, p.mmio.read(MMIO32, 4), "memory decoding is off: a hole in the window");
        assertEquals(1, unassigned.size(), unassigned.toString());
        cfg(TESTDEV, 0x04, 2, Pci.COMMAND_MEMORY);
        assertEquals(IsthmusTestDevice.ID, p.mmio.read(MMIO32, 4));
        assertEquals(MMIO32, host.bus().mappedAt(TESTDEV, 0));
        // Moved with decoding on, as QEMU moves the region at once.
        cfg(TESTDEV, 0x10, 4, MMIO32 + 0x10_0000);
        assertEquals(0, p.mmio.read(MMIO32, 4), "gone from the old address");
        assertEquals(IsthmusTestDevice.ID, p.mmio.read(MMIO32 + 0x10_0000, 4));
        p.mmio.write(MMIO32 + 0x10_0000 + IsthmusTestDevice.REG_SCRATCH, 4, 0xcafe);
        assertEquals(0xcafe, p.mmio.read(MMIO32 + 0x10_0000 + IsthmusTestDevice.REG_SCRATCH, 4));
        // Sizing with decoding on (a careless guest): the BAR leaves the window, so it decodes nowhere.
        cfg(TESTDEV, 0x10, 4, 0xffffffffL);
        assertEquals(-1, host.bus().mappedAt(TESTDEV, 0));
        assertTrue(host.bus().memorySpace().describe().isEmpty());
        cfg(TESTDEV, 0x10, 4, MMIO32);
        cfg(TESTDEV, 0x04, 2, 0);
        assertEquals(-1, host.bus().mappedAt(TESTDEV, 0), "decoding off again");
        assertTrue(host.bus().memorySpace().describe().isEmpty());
    }

    @Test
    void a128GiBBarDecodesInTheTopQuarterOfA40BitSpace() {
        host(40, new IsthmusTestDevice(128L << 30, 8));
        place(TESTDEV, MMIO32, MMIO64);
        assertEquals(MMIO64, host.bus().mappedAt(TESTDEV, 2));
        assertEquals(0, p.mmio.read(MMIO64, 4), "its first page");
        assertEquals((128L << 30) / 4096 - 1, p.mmio.read(MMIO64 + (128L << 30) - 4, 4), "its last page");
        assertEquals(0, unassigned.size());
        p.mmio.read(MMIO64 + (128L << 30), 4);
        assertEquals(1, unassigned.size(), "past the BAR: a hole in the window");
        // The other naturally aligned 128 GiB slot of the 256 GiB window.
        cfg(TESTDEV, 0x1c, 4, (MMIO64 + (128L << 30)) >>> 32);
        assertEquals(MMIO64 + (128L << 30), host.bus().mappedAt(TESTDEV, 2));
        assertEquals(1, p.mmio.read(MMIO64 + (128L << 30) + 4096, 4));
        // Below the window (still in the 40-bit space, but not where the CPU sees PCI): decodes nowhere.
        cfg(TESTDEV, 0x1c, 4, 0x80);
        assertEquals(-1, host.bus().mappedAt(TESTDEV, 2));
    }

    @Test
    void a64BitBarMayDecodeInThe32BitWindow() {
        host(40, new IsthmusTestDevice(1L << 20, 8));
        place(TESTDEV, MMIO32, MMIO32 + 0x100_0000);
        assertEquals(MMIO32 + 0x100_0000, host.bus().mappedAt(TESTDEV, 2));
        assertEquals(2, p.mmio.read(MMIO32 + 0x100_0000 + 0x2000, 4));
    }

    @Test
    void overlappingBarsTheLowerFunctionWinsUntilItMoves() {
        IsthmusTestDevice a = new IsthmusTestDevice(1L << 20, 8), b = new IsthmusTestDevice(1L << 20, 8);
        host(40, a, b);
        place(0x08, MMIO32, MMIO64);
        place(0x10, MMIO32, MMIO64 + (1L << 20));
        assertEquals(MMIO32, host.bus().mappedAt(0x08, 0));
        assertEquals(-1, host.bus().mappedAt(0x10, 0), "overlaps 00:01.0's BAR0");
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_SCRATCH, 4, 1);
        cfg(0x08, 0x10, 4, MMIO32 + 0x10_0000);
        assertEquals(MMIO32, host.bus().mappedAt(0x10, 0), "00:02.0's BAR0 decodes once 00:01.0's moved");
        assertEquals(0, p.mmio.read(MMIO32 + IsthmusTestDevice.REG_SCRATCH, 4), "and it is the other function");
        assertEquals(1, p.mmio.read(MMIO32 + 0x10_0000 + IsthmusTestDevice.REG_SCRATCH, 4));
    }

    @Test
    void aBarTooLargeForEveryWindowIsAnError() {
        // 36-bit guest: the 64-bit window is 16 GiB.
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> host(36, new IsthmusTestDevice(128L << 30, 8)));
        assertTrue(e.getMessage().contains("fits no window") && e.getMessage().contains("pcie-mmio64 0x400000000"),
                e.getMessage());
    }

    @Test
    void addressesAsQemuAssignsThemAndMultiFunction() {
        host = new PcieHost(PcieLayout.microvm(40), router, new Unassigned.Reports(unassigned::add));
        assertEquals(0x08, host.add(-1, new IsthmusTestDevice(1 << 20, 1)));
        assertEquals(0x21, host.add(Pci.devfn(4, 1), new IsthmusTestDevice(1 << 20, 1)));
        assertEquals(0x10, host.add(-1, new IsthmusTestDevice(1 << 20, 1)), "the next free device's function 0");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> host.add(0x08, new IsthmusTestDevice(1 << 20, 1)));
        assertEquals("PCI: slot 1 function 0 not available for isthmus-testdev, in use by isthmus-testdev",
                e.getMessage());
        host.plug(p);
        assertEquals(0xffffffffL, cfg(0x21, 0, 4), "function 1 is hidden while its device has no function 0");
        host = new PcieHost(PcieLayout.microvm(40), router, new Unassigned.Reports(unassigned::add));
        host.add(Pci.devfn(3, 0), new IsthmusTestDevice(1 << 20, 1));
        host.add(Pci.devfn(3, 2), new IsthmusTestDevice(1 << 20, 1));
        TestPlatform q = new TestPlatform();
        host.plug(q);
        assertEquals(0x80, q.mmio.read(ECAM + (0x18 << 12) + 0x0e, 1), "function 0 says multi-function");
        assertEquals(0x7e57_1234L, q.mmio.read(ECAM + (0x1a << 12), 4));
    }

    @Test
    void intxIsSwizzledSharedAndMaskedByTheCommandRegister() {
        IsthmusTestDevice a = new IsthmusTestDevice(1 << 20, 1), b = new IsthmusTestDevice(1 << 20, 1);
        host = new PcieHost(PcieLayout.microvm(40), router, new Unassigned.Reports(unassigned::add));
        host.add(Pci.devfn(1, 0), a);
        host.add(Pci.devfn(5, 0), b); // (5 + INTA) % 4 = 1 as well
        host.plug(p);
        place(0x08, MMIO32, MMIO64);
        place(0x28, MMIO32 + 0x10_0000, MMIO64 + (1L << 20));
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_FIRE, 4, 0); // no MSI or MSI-X enabled: INTA
        assertTrue(p.gsi[17], "slot 1 INTA: GSI 16 + (1 + 0) % 4");
        assertEquals(Pci.STATUS_INTERRUPT, cfg(0x08, 0x06, 2) & Pci.STATUS_INTERRUPT);
        p.mmio.write(MMIO32 + 0x10_0000 + IsthmusTestDevice.REG_INTX, 4, 1);
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_INTX, 4, 0);
        assertTrue(p.gsi[17], "the other function still drives the shared line");
        assertEquals(0, cfg(0x08, 0x06, 2) & Pci.STATUS_INTERRUPT);
        cfg(0x28, 0x04, 2, Pci.COMMAND_MEMORY | Pci.COMMAND_INTX_DISABLE);
        assertFalse(p.gsi[17], "INTx disabled");
        assertEquals(Pci.STATUS_INTERRUPT, cfg(0x28, 0x06, 2) & Pci.STATUS_INTERRUPT, "the status bit still says");
        cfg(0x28, 0x04, 2, Pci.COMMAND_MEMORY);
        assertTrue(p.gsi[17], "enabled again while asserted");
        p.mmio.write(MMIO32 + 0x10_0000 + IsthmusTestDevice.REG_INTX, 4, 0);
        assertEquals(List.of("GSI 17 high", "GSI 17 low", "GSI 17 high", "GSI 17 low"), p.gsiLog);
    }

    @Test
    void msixFromTheTableToTheRouteWithMaskingAndPending() {
        IsthmusTestDevice d = new IsthmusTestDevice(1 << 20, 4);
        host(40, d);
        place(TESTDEV, MMIO32, MMIO64);
        FakeMsiRouter.Vector v0 = router.get(0), v1 = router.get(1);
        assertEquals("isthmus-testdev 00:01.0 MSI-X 0", v0.owner);
        long table = MMIO32 + IsthmusTestDevice.TABLE_OFFSET, pba = MMIO32 + IsthmusTestDevice.PBA_OFFSET;
        for (int v = 0; v < 4; v++) {
            assertEquals(1, p.mmio.read(table + 16L * v + 12, 4), "entry " + v + " masked after reset");
        }
        int msix = (int) cfg(TESTDEV, 0x34, 1);
        // Linux: MSI-X enabled with the function masked, entries written, the function unmasked.
        cfg(TESTDEV, msix + 2, 2, 0xc000);
        p.mmio.write(table, 4, 0xfee0_0000L);
        p.mmio.write(table + 4, 4, 0);
        p.mmio.write(table + 8, 4, 0x41);
        p.mmio.write(table + 12, 4, 0);
        assertNull(v0.route, "the function is masked");
        cfg(TESTDEV, msix + 2, 2, 0x8000);
        assertEquals(new FakeMsiRouter.Route(0xfee0_0000L, 0x41), v0.route);
        assertNull(v1.route, "entry 1 is still masked");
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_FIRE, 4, 0);
        assertEquals(List.of(new FakeMsiRouter.Route(0xfee0_0000L, 0x41)), v0.delivered);
        // Entry masked: the interrupt waits in the PBA, and comes when unmasked.
        p.mmio.write(table + 12, 4, 1);
        assertNull(v0.route);
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_FIRE, 4, 0);
        assertEquals(1, v0.delivered.size());
        assertEquals(1, p.mmio.read(pba, 4));
        assertEquals(1, p.mmio.read(pba, 8));
        p.mmio.write(table + 12, 4, 0);
        assertEquals(2, v0.delivered.size());
        assertEquals(new FakeMsiRouter.Route(0xfee0_0000L, 0x41), v0.delivered.get(1));
        assertEquals(0, p.mmio.read(pba, 4));
        // The function mask holds every vector, and releases what is pending.
        cfg(TESTDEV, msix + 3, 1, 0xc0);
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_FIRE, 4, 0);
        assertEquals(2, v0.delivered.size());
        assertEquals(1, p.mmio.read(pba, 4));
        cfg(TESTDEV, msix + 3, 1, 0x80);
        assertEquals(3, v0.delivered.size());
        // An 8-byte table write, as some drivers write the address.
        p.mmio.write(table + 16, 8, 0x0000_0001_fee0_1000L);
        p.mmio.write(table + 24, 8, 0x42L);
        assertEquals(new FakeMsiRouter.Route(0x1_fee0_1000L, 0x42), v1.route);
        assertEquals(0x0000_0001_fee0_1000L, p.mmio.read(table + 16, 8));
        assertEquals(0, p.mmio.read(table + 16, 2), "2-byte table accesses are not allowed");
        // Disabled: no route, and the device's interrupts are dropped, not pending.
        cfg(TESTDEV, msix + 2, 2, 0);
        assertNull(v0.route);
        assertNull(v1.route);
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_FIRE, 4, 0);
        assertEquals(0, p.mmio.read(pba, 4));
        assertEquals(3, v0.delivered.size());
    }

    @Test
    void resetPutsEveryBarBackToZeroAndDisablesMessages() {
        IsthmusTestDevice d = new IsthmusTestDevice(1 << 20, 4);
        host(40, d);
        place(TESTDEV, MMIO32, MMIO64);
        int msix = (int) cfg(TESTDEV, 0x34, 1);
        cfg(TESTDEV, msix + 2, 2, 0x8000);
        long table = MMIO32 + IsthmusTestDevice.TABLE_OFFSET;
        p.mmio.write(table, 4, 0xfee0_0000L);
        p.mmio.write(table + 12, 4, 0);
        p.mmio.write(MMIO32 + IsthmusTestDevice.REG_SCRATCH, 4, 7);
        assertTrue(router.get(0).route != null);
        host.reset();
        assertEquals(0, cfg(TESTDEV, 0x10, 4));
        assertEquals(0x0c, cfg(TESTDEV, 0x18, 4));
        assertEquals(0, cfg(TESTDEV, 0x04, 2));
        assertEquals(-1, host.bus().mappedAt(TESTDEV, 0));
        assertEquals(-1, host.bus().mappedAt(TESTDEV, 2));
        assertTrue(host.bus().memorySpace().describe().isEmpty());
        assertNull(router.get(0).route);
        assertEquals(3, cfg(TESTDEV, msix + 2, 2), "MSI-X disabled");
        place(TESTDEV, MMIO32, MMIO64);
        assertEquals(0, p.mmio.read(MMIO32 + IsthmusTestDevice.REG_SCRATCH, 4), "the function's own reset");
        assertEquals(1, p.mmio.read(table + 12, 4), "entries masked again");
        host.close();
        assertTrue(router.vectors.stream().allMatch(v -> v.closed));
        assertTrue(host.bus().memorySpace().describe().isEmpty());
    }
}
