package io.isthmus.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class ReportLimiterTest {
    private final List<String> lines = new ArrayList<>();
    private long now = 5_000_000_000L;
    private final ReportLimiter limiter = new ReportLimiter(lines::add, () -> now);

    @Test
    void aBurstPassesThenOneASecondWithTheCountOfThoseDropped() {
        for (int i = 0; i < 1000; i++) {
            limiter.accept("broken " + i);
        }
        assertEquals(ReportLimiter.BURST, lines.size());
        assertEquals("broken 7", lines.get(7));
        assertEquals(1000 - ReportLimiter.BURST, limiter.suppressed());

        now += ReportLimiter.REFILL_NANOS - 1;
        limiter.accept("too soon");
        assertEquals(ReportLimiter.BURST, lines.size());

        now += 1;
        limiter.accept("again");
        limiter.accept("dropped");
        assertEquals(ReportLimiter.BURST + 1, lines.size());
        assertEquals("again (993 similar reports suppressed)", lines.get(ReportLimiter.BURST));
        assertEquals(1, limiter.suppressed());
    }

    @Test
    void aQuietDeviceEarnsItsBurstBackButNoMore() {
        for (int i = 0; i < ReportLimiter.BURST; i++) {
            limiter.accept("a");
        }
        now += 100 * ReportLimiter.REFILL_NANOS;
        for (int i = 0; i < 3 * ReportLimiter.BURST; i++) {
            limiter.accept("b");
        }
        assertEquals(2 * ReportLimiter.BURST, lines.size());
    }

    @Test
    void aTransportBrokenInALoopReportsABoundedNumberOfLines() {
        List<String> errors = new ArrayList<>();
        ReportLimiter l = new ReportLimiter(errors::add, System::nanoTime);
        for (int i = 0; i < 100_000; i++) {
            l.accept("virtio device 63: queue 0: descriptor 0 of the chain from 0: next index 133 is past the table");
        }
        // The burst, and one more for each second the loop took (none, usually).
        assertTrue(errors.size() <= ReportLimiter.BURST + 2, errors.size() + " lines");
    }
}
