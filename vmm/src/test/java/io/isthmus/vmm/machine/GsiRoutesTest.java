package io.isthmus.vmm.machine;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * {@link GsiRoutes}' one pure rule: a route that does not change is not sent to the kernel again (each
 * {@code KVM_SET_GSI_ROUTING} costs an SRCU grace period). The table has no VM here, so any call into the kernel
 * throws: that is how the test sees one.
 */
class GsiRoutesTest {
    private final GsiRoutes routes = new GsiRoutes(null, Interrupts.IOAPIC_GSIS);

    @Test
    void sizeIsTheIoapicsPins() {
        assertEquals(48, routes.size());
    }

    @Test
    void removingAnAbsentRouteIsNotSent() {
        assertDoesNotThrow(() -> {
            for (int gsi = 0; gsi < routes.size(); gsi++) {
                routes.set(gsi, 0xfee00000L, 0x30, false);
                routes.set(gsi, 0xfee01000L, 0x31, false); // a masked entry's message changing: still absent
            }
        });
    }

    @Test
    void aNewRouteIsSent() {
        assertThrows(NullPointerException.class, () -> routes.set(3, 0xfee00000L, 0x30, true),
                "installing a route must reach the kernel");
    }

    @Test
    void interruptsRefuseLinesOutsideTheIoapics() {
        Interrupts i = new Interrupts(null, routes, () -> { }, null);
        try {
            assertThrows(IllegalArgumentException.class, () -> i.gsi(Interrupts.IOAPIC_GSIS));
            assertThrows(IllegalArgumentException.class, () -> i.isa(16));
            assertDoesNotThrow(() -> i.gsi(0).set(true), "masked pins after reset: no delivery, no route");
        } finally {
            i.close();
        }
    }
}
