package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link IrqLine}: the unconnected line, and a lambda line as devices get them. */
class IrqLineTest {
    @Test
    void noneTakesAnyLevel() {
        assertDoesNotThrow(() -> {
            IrqLine.NONE.set(true);
            IrqLine.NONE.set(false);
            IrqLine.NONE.set(true);
        });
    }

    @Test
    void aLineSeesEveryLevelInOrder() {
        List<Boolean> seen = new ArrayList<>();
        IrqLine line = seen::add;
        line.set(true);
        line.set(false);
        line.set(false);
        assertEquals(List.of(true, false, false), seen);
    }

    @Test
    void theFakePlatformRecordsTheLinesItHandsOut() {
        FakePlatform p = new FakePlatform();
        p.isaIrq(4).set(true);
        p.gsi(47).set(true);
        p.gsi(47).set(false);
        assertEquals(true, p.isaLine(4).level());
        assertEquals(List.of(true, false), p.gsiLine(47).history());
        assertEquals(List.of(), p.isaLine(3).history());
    }
}
