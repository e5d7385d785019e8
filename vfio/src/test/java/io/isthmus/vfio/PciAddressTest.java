package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PciAddressTest {
    @Test
    void parsesLongAndShortForms() {
        assertEquals(new PciAddress(0, 0, 4, 0), PciAddress.parse("0000:00:04.0"));
        assertEquals(new PciAddress(0, 0x3b, 0x1f, 7), PciAddress.parse("3b:1f.7"));
        assertEquals("0001:02:03.4", PciAddress.parse("1:2:3.4").toString());
        assertTrue(PciAddress.parse("00:04.0").compareTo(PciAddress.parse("00:04.1")) < 0);
    }

    @Test
    void rejectsMalformedAddressesWithTheExpectedForm() {
        var e = assertThrows(IllegalArgumentException.class, () -> PciAddress.parse("00:04"));
        assertEquals("not a PCI address: '00:04' (expected DDDD:BB:DD.F, e.g. 0000:00:04.0, or BB:DD.F)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PciAddress.parse("00:20.0"));
    }
}
