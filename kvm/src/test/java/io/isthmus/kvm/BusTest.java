package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Recorder;
import io.isthmus.kvm.bus.BusOverlapException;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;

class BusTest {

    @Test
    void rangesAreHalfOpenAndOverlapsRejected() {
        MmioBus bus = new MmioBus();
        Recorder a = new Recorder(), b = new Recorder();
        bus.insert(0x1000, 0x100, a, "a");
        bus.insert(0x1100, 0x100, b, "b"); // adjacent is fine
        assertSame(a, bus.deviceAt(0x10ff));
        assertSame(b, bus.deviceAt(0x1100));
        assertNull(bus.deviceAt(0x0fff));
        assertNull(bus.deviceAt(0x1200));
        BusOverlapException e = assertThrows(BusOverlapException.class,
                () -> bus.insert(0x10f0, 0x20, new Recorder(), "c"));
        assertTrue(e.getMessage().contains("overlaps [0x1000-0x1100) of a"), e.getMessage());
        assertThrows(BusOverlapException.class, () -> bus.insert(0x0800, 0x1000, new Recorder(), "d"));
        assertThrows(BusOverlapException.class, () -> bus.insert(0x1180, 1, new Recorder(), "e"));
        assertThrows(BusOverlapException.class, () -> bus.insert(0x5000, 0, new Recorder(), "empty"));
        assertTrue(bus.remove(0x1000));
        bus.insert(0x10f0, 0x10, new Recorder(), "c"); // free now
        assertEquals(2, bus.describe().size());
    }

    @Test
    void highAddressesCompareUnsigned() {
        MmioBus bus = new MmioBus();
        Recorder hi = new Recorder();
        bus.insert(0xFFFF_FFFF_FFFF_F000L, 0x1000, hi, "top page");
        bus.insert(0x1000, 0x1000, new Recorder(), "low");
        assertSame(hi, bus.deviceAt(-1L));
        bus.write(-8L, 8, 42);
        assertEquals("ff8/8=2a", hi.writes.get(0));
    }

    @Test
    void portBusEndsAt0xFFFF() {
        PioBus pio = new PioBus();
        pio.insert(0xFFF0, 0x10, new Recorder(), "last ports");
        assertThrows(BusOverlapException.class, () -> pio.insert(0xFFFF, 2, new Recorder(), "beyond"));
        assertEquals(0xFF, pio.read(0x80, 1), "nothing at 0x80: reads as all ones");
        assertEquals(0xFFFF, pio.read(0x80, 2));
    }

    @Test
    void allocationTakesTheLowestFreeAlignedRangeAndGapsSayWhatIsFree() {
        MmioBus bus = new MmioBus();
        bus.insert(0x1000, 0x800, new Recorder(), "a");
        bus.insert(0x2000, 0x1000, new Recorder(), "b");
        assertEquals(0x3000, bus.allocate(0x1000, 0x1000, 0x1000, 0x10000, new Recorder(), "c"),
                "the gap at 0x1800 is too small once aligned");
        assertEquals(0x1800, bus.allocate(0x100, 0x100, 0x1000, 0x10000, new Recorder(), "d"), "small enough fits");
        var gaps = bus.gaps(0, 0x10000);
        assertEquals(3, gaps.size());
        assertEquals(java.util.List.of(0L, 0x1000L), java.util.List.of(gaps.get(0)[0], gaps.get(0)[1]));
        assertEquals(java.util.List.of(0x1900L, 0x2000L), java.util.List.of(gaps.get(1)[0], gaps.get(1)[1]));
        assertEquals(java.util.List.of(0x4000L, 0x10000L), java.util.List.of(gaps.get(2)[0], gaps.get(2)[1]));
        BusOverlapException e = assertThrows(BusOverlapException.class,
                () -> bus.allocate(0x10000, 0x1000, 0x1000, 0x10000, new Recorder(), "huge"));
        assertTrue(e.getMessage().contains("no free MMIO range"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bus.allocate(0x100, 3, 0, 0x10000, new Recorder(), "odd"));
    }
}
