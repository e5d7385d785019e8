package io.isthmus.vmm.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** MSI as Linux programs it: address and data, then the enable bit with Multiple Message Enable. */
class MsiCapabilityTest {
    final FakeMsiRouter router = new FakeMsiRouter();
    final PciConfigSpace c = new PciConfigSpace(Pci.CONFIG_SIZE, 0x1234, 0x1, 0, 0xff0000, 0, 0);
    final MsiCapability msi = MsiCapability.add(c, 4);
    final int at = msi.offset();

    MsiCapabilityTest() {
        msi.attach(router, "f");
    }

    @Test
    void layoutAndWritableBits() {
        assertEquals(Pci.CAP_ID_MSI, c.read(at, 1));
        assertEquals(0x184, c.read(at + 2, 2), "per-vector masking, 64-bit, 4 vectors capable, 1 enabled");
        c.write(at + 2, 2, 0xffff);
        assertEquals(0x1a5, c.read(at + 2, 2), "MME 7 clamped to MMC 2, enabled");
        c.write(at + 4, 4, -1);
        assertEquals(0xffff_fffc, c.read(at + 4, 4), "address dword-aligned");
        c.write(at + 0xc, 4, -1);
        assertEquals(0xffff, c.read(at + 0xc, 4), "16-bit data");
        c.write(at + 0x10, 4, -1);
        assertEquals(0xf, c.read(at + 0x10, 4), "a mask bit per vector");
        c.write(at + 0x14, 4, -1);
        assertEquals(0, c.read(at + 0x14, 4), "pending bits are read-only");
    }

    @Test
    void eachEnabledVectorRoutesItsOwnDataAndMaskedOnesWait() {
        c.write(at + 4, 4, 0xfee0_0000);
        c.write(at + 8, 4, 0);
        c.write(at + 0xc, 2, 0x4060);
        assertNull(router.get(0).route, "not enabled yet");
        c.write(at + 2, 2, 0x1 | 2 << 4); // 4 vectors
        for (int v = 0; v < 4; v++) {
            assertEquals(new FakeMsiRouter.Route(0xfee0_0000L, 0x4060 | v), router.get(v).route, "vector " + v);
        }
        msi.notify(2);
        assertEquals(1, router.get(2).delivered.size());
        c.write(at + 0x10, 4, 0b0100);
        assertNull(router.get(2).route);
        msi.notify(2);
        assertEquals(1, router.get(2).delivered.size());
        assertTrue(msi.pending(2));
        assertEquals(0b0100, c.read(at + 0x14, 4));
        c.write(at + 0x10, 4, 0);
        assertEquals(2, router.get(2).delivered.size(), "delivered on unmasking");
        assertFalse(msi.pending(2));
        c.write(at + 2, 2, 0x1); // 1 vector
        assertEquals(new FakeMsiRouter.Route(0xfee0_0000L, 0x4060), router.get(0).route);
        assertNull(router.get(1).route, "vectors beyond MME lose their routes");
        msi.notify(1);
        assertEquals(List.of(), router.get(1).delivered);
        c.write(at + 2, 2, 0);
        assertNull(router.get(0).route);
        msi.notify(0);
        assertEquals(0, router.get(0).delivered.size());
        assertFalse(msi.pending(0), "disabled: dropped, not pending");
    }

    @Test
    void enablingMsiDeassertsIntx() {
        c.setInterruptPin(1);
        c.setIntx(true);
        assertEquals(Pci.STATUS_INTERRUPT, c.read(Pci.STATUS, 2) & Pci.STATUS_INTERRUPT);
        c.write(at + 2, 2, 0x1);
        assertEquals(0, c.read(Pci.STATUS, 2) & Pci.STATUS_INTERRUPT);
    }
}
