package io.isthmus.vmm.passthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vmm.pci.PciBar;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a host function shows its guest, from its configuration space and VFIO's region sizes. */
class HostFunctionLayoutTest {
    /** QEMU's edu: 1234:11e8 rev 10, class 00ff00, BAR0 32-bit 1 MiB, MSI at 0x40 (one vector), INTA. */
    static byte[] edu() {
        byte[] c = new byte[256];
        put(c, 0x00, 2, 0x1234);
        put(c, 0x02, 2, 0x11e8);
        put(c, 0x06, 2, 0x0010); // capability list
        put(c, 0x08, 1, 0x10);
        put(c, 0x09, 3, 0x00ff00);
        put(c, 0x10, 4, 0xfea00000); // the host's address: not the guest's
        put(c, 0x2c, 2, 0x1af4);
        put(c, 0x2e, 2, 0x1100);
        put(c, 0x34, 1, 0x40);
        put(c, 0x3d, 1, 1);
        put(c, 0x40, 1, 0x05);
        put(c, 0x41, 1, 0x00);
        put(c, 0x42, 2, 0x0080); // 64-bit, 1 vector
        return c;
    }

    static void put(byte[] c, int at, int size, int v) {
        for (int i = 0; i < size; i++) {
            c[at + i] = (byte) (v >>> (8 * i));
        }
    }

    @Test
    void edusLayout() {
        HostFunctionLayout l = HostFunctionLayout.of(edu(), 256, new long[] {1 << 20, 0, 0, 0, 0, 0}, 1, 0);
        assertEquals(256, l.configSize());
        assertEquals(0x1234, l.vendorId());
        assertEquals(0x11e8, l.deviceId());
        assertEquals(0x10, l.revision());
        assertEquals(0x00ff00, l.classCode());
        assertEquals(0x1af4, l.subsystemVendorId());
        assertEquals(0x1100, l.subsystemId());
        assertEquals(List.of(new HostFunctionLayout.Bar(0, 1 << 20, PciBar.Kind.MEMORY32, false)), l.bars());
        assertEquals(1, l.msiVectors());
        assertNull(l.msix());
    }

    @Test
    void sixtyFourBitBarsMsixAndExpressSpace() {
        byte[] c = edu();
        put(c, 0x10, 4, 0x0000000c); // BAR0: 64-bit prefetchable
        put(c, 0x18, 4, 0x00000000); // BAR2: 32-bit
        put(c, 0x1c, 4, 0x00000001); // BAR3: I/O, left out
        put(c, 0x42, 2, 0x0080);
        put(c, 0x41, 1, 0x50);
        put(c, 0x50, 1, 0x11); // MSI-X: 16 vectors, table in BAR2 at 0x2000, PBA in BAR2 at 0x3000
        put(c, 0x52, 2, 15);
        put(c, 0x54, 4, 0x2000 | 2);
        put(c, 0x58, 4, 0x3000 | 2);
        HostFunctionLayout l = HostFunctionLayout.of(c, 4096,
                new long[] {128L << 30, 0, 0x4000, 0x100, 0, 0}, 1, 16);
        assertEquals(4096, l.configSize());
        assertEquals(List.of(new HostFunctionLayout.Bar(0, 128L << 30, PciBar.Kind.MEMORY64, true),
                new HostFunctionLayout.Bar(2, 0x4000, PciBar.Kind.MEMORY32, false)), l.bars());
        assertEquals(new HostFunctionLayout.Msix(16, 2, 0x2000, 2, 0x3000), l.msix());
        assertEquals(0, l.msiVectors(), "MSI-X is preferred: the guest gets one of the two");
    }

    @Test
    void smallBarsAreRoundedToAPageAndOddOnesRefused() {
        HostFunctionLayout l = HostFunctionLayout.of(edu(), 256, new long[] {256, 0, 0, 0, 0, 0}, 1, 0);
        assertEquals(4096, l.bars().getFirst().size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HostFunctionLayout.of(edu(), 256, new long[] {3 << 20, 0, 0, 0, 0, 0}, 1, 0));
        assertTrue(e.getMessage().contains("BAR0 is 0x300000 bytes, not a power of two"), e.getMessage());
    }

    @Test
    void bridgesAndLoopingCapabilityListsAreHandled() {
        byte[] c = edu();
        c[0x0e] = 1;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> HostFunctionLayout.of(c, 256,
                new long[6], 0, 0)).getMessage().contains("header type 0x01"));
        byte[] loop = edu();
        put(loop, 0x40, 1, 0x01);
        put(loop, 0x41, 1, 0x40); // points at itself
        assertEquals(0, HostFunctionLayout.findCapability(loop, 0x05));
        assertEquals(0, HostFunctionLayout.of(loop, 256, new long[6], 1, 0).msiVectors());
    }
}
