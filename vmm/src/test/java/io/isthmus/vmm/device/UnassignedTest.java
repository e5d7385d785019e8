package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The filler of unassigned space, through the buses: all ones of the access's width on the I/O bus, zero on MMIO,
 * writes dropped, every access counted, reported (rate-limited) when {@code -d guest_errors} gives a sink, and
 * silently counted when it does not.
 */
class UnassignedTest {
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Unassigned.Reports reports = new Unassigned.Reports(lines::add);

    @Test
    void ioReadsAreAllOnesOfTheAccessWidth() {
        PioBus bus = new PioBus();
        bus.insert(0x100, 0x100, new Unassigned("PIO", 0x100, true, reports), "unassigned");
        assertEquals(0xffL, bus.read(0x180, 1));
        assertEquals(0xffffL, bus.read(0x180, 2));
        assertEquals(0xffff_ffffL, bus.read(0x180, 4));
        assertEquals(3, reports.total());
        assertEquals(0, bus.unhandled(), "the filler handled them");
    }

    @Test
    void mmioReadsAreZero() {
        MmioBus bus = new MmioBus();
        bus.insert(0xd000_0000L, 0x1000, new Unassigned("MMIO", 0xd000_0000L, false, reports), "unassigned");
        assertEquals(0, bus.read(0xd000_0010L, 4));
        assertEquals(0, bus.read(0xd000_0010L, 8));
        assertEquals(2, reports.total());
    }

    @Test
    void writesAreDroppedButCountedAndReportedWithTheirAddress() {
        PioBus bus = new PioBus();
        bus.insert(0x200, 0x10, new Unassigned("PIO", 0x200, true, reports), "unassigned");
        assertTrue(bus.write(0x204, 1, 0x5a));
        assertEquals(0xff, bus.read(0x204, 1), "nothing kept");
        assertEquals(2, reports.total());
        assertEquals(List.of("unassigned PIO write at 0x204 size 1 value 0x5a", "unassigned PIO read at 0x204 size 1"),
                lines);
    }

    @Test
    void reportsAreRateLimitedAndSummarised() {
        Unassigned u = new Unassigned("MMIO", 0xe000_0000L, false, reports);
        for (int i = 0; i < Unassigned.BURST + 5; i++) {
            u.write(i * 4, 4, i);
        }
        assertEquals(Unassigned.BURST + 5, reports.total());
        assertEquals(Unassigned.BURST, lines.size(), "at most BURST lines a second: " + lines);
        reports.flushSummary();
        assertEquals("5 more unassigned accesses not shown (" + (Unassigned.BURST + 5) + " in all)",
                lines.get(lines.size() - 1));
        int before = lines.size();
        reports.flushSummary();
        assertEquals(before, lines.size(), "the summary is printed once");
    }

    @Test
    void withoutGuestErrorsAccessesAreOnlyCounted() {
        // What the machine builder makes without -d guest_errors: a sink that drops the lines.
        Unassigned.Reports counted = new Unassigned.Reports(line -> { });
        Unassigned u = new Unassigned("PIO", 0, true, counted);
        for (int i = 0; i < Unassigned.BURST * 3; i++) {
            u.read(i, 1);
        }
        u.write(1, 1, 0);
        assertEquals(Unassigned.BURST * 3 + 1, counted.total());
    }
}
