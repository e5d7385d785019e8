package io.isthmus.vmm.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The 64-bit window: the top quarter of the guest-physical space, as QEMU's microvm sizes it. */
class PcieLayoutTest {
    @Test
    void theTopQuarterOfTheGuestPhysicalSpace() {
        PcieLayout l40 = PcieLayout.microvm(40);
        assertEquals(0xc0_0000_0000L, l40.mmio64Base(), "768 GiB, as QEMU's DSDT for the lab's 40-bit CPU");
        assertEquals(0x40_0000_0000L, l40.mmio64Size(), "256 GiB: one 128 GiB BAR, or two");
        assertEquals(0xe000_0000L, l40.ecamBase());
        assertEquals(0xc000_0000L, l40.mmio32Base());
        assertEquals(16, l40.irqBase());
        PcieLayout l46 = PcieLayout.microvm(46);
        assertEquals(48L << 40, l46.mmio64Base());
        assertEquals(16L << 40, l46.mmio64Size());
        PcieLayout l39 = PcieLayout.microvm(39);
        assertEquals(128L << 30, l39.mmio64Size(), "the smallest width that holds an H100's 128 GiB BAR2");
        assertEquals(1L << 50, PcieLayout.microvm(52).mmio64Size());
        assertThrows(IllegalArgumentException.class, () -> PcieLayout.microvm(53));
    }

    @Test
    void ramMustEndBelowTheWindow() {
        PcieLayout l = PcieLayout.microvm(40);
        l.checkRam(0xc0_0000_0000L);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> l.checkRam(0xc0_0000_1000L));
        assertTrue(e.getMessage().contains("reaches the 64-bit PCI window at 0xc000000000"), e.getMessage());
    }
}
