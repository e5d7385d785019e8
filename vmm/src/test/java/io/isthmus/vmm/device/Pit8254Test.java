package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The PIT on a fake clock: counter reads, OUT and channel 0's line transitions at exact instants, driven with
 * {@link Pit8254#advanceTo} instead of sleeps. Expected values follow QEMU's {@code pit_get_count} and
 * {@code pit_get_out}.
 */
class Pit8254Test {
    private static final long T0 = 1_000_000_007L; // an arbitrary, not round, load instant

    private long now;
    private final List<Boolean> irq = new ArrayList<>();
    private final Pit8254 pit = new Pit8254(irq::add, () -> now, false);

    {
        // The power-on level (channel 0's OUT starts high in mode 3); the tests below look at what follows.
        assertEquals(List.of(true), irq);
        irq.clear();
    }

    private void ctl(int v) {
        pit.ports().write(3, 1, v);
    }

    private void out(int port, int v) {
        pit.ports().write(port, 1, v);
    }

    private int in(int port) {
        return (int) pit.ports().read(port, 1);
    }

    private int readWord(int port) {
        int lo = in(port);
        return lo | in(port) << 8;
    }

    private int latchAndRead(int channel) {
        ctl(channel << 6);
        return readWord(0x40 - 0x40 + channel);
    }

    private void at(long t) {
        now = t;
        pit.advanceTo(t);
    }

    /** The instant {@code ticks} PIT clocks after the load at T0. */
    private static long tick(long ticks) {
        return T0 + Pit8254.nanos(ticks);
    }

    /** Checks that the next transition is at exactly {@code t}: nothing a nanosecond before, {@code level} at it. */
    private void expectTransition(long t, boolean level) {
        assertEquals(t, pit.nextTransitionNanos());
        int before = irq.size();
        at(t - 1);
        assertEquals(before, irq.size(), "early transition");
        at(t);
        assertEquals(before + 1, irq.size());
        assertEquals(level, irq.get(irq.size() - 1));
    }

    @Test
    void tickArithmeticIsExactAndDoesNotOverflow() {
        for (long k : new long[] {0, 1, 2, 1193, 1194, 59659, 65536, 1_193_181, 1_193_182, 123_456_789_012L}) {
            assertEquals(k, Pit8254.ticks(Pit8254.nanos(k)), "k=" + k);
            if (k > 0) {
                // nanos() is the first instant at which k ticks have elapsed.
                assertEquals(k - 1, Pit8254.ticks(Pit8254.nanos(k) - 1), "k=" + k);
            }
        }
        long day = 86_400_000_000_000L;
        assertEquals(86_400L * Pit8254.FREQUENCY, Pit8254.ticks(day));
        assertEquals(1_193_182L * 365 * 86_400, Pit8254.ticks(365 * day)); // a year of uptime still exact
    }

    @Test
    void mode2RateGeneratorPulsesOncePerPeriod() {
        now = T0;
        ctl(0x34); // Linux setup_pit_timer: channel 0, lobyte/hibyte, mode 2, binary
        out(0, 1193 & 0xff);
        assertTrue(irq.isEmpty()); // nothing until the count is complete
        out(0, 1193 >> 8);
        assertEquals(List.of(false), irq); // OUT low right after loading
        for (int period = 1; period <= 3; period++) {
            expectTransition(tick(1193L * period), true);
            expectTransition(tick(1193L * period + 1), false);
        }
        now = tick(3 * 1193 + 100);
        assertEquals(1193 - 100, latchAndRead(0));
    }

    @Test
    void mode3SquareWave() {
        now = T0;
        ctl(0x36);
        out(0, 1000 & 0xff);
        out(0, 1000 >> 8);
        assertEquals(List.of(true), irq); // OUT starts high
        expectTransition(tick(500), false);
        expectTransition(tick(1000), true);
        expectTransition(tick(1500), false);
        now = tick(2100);
        assertEquals(1000 - 200, latchAndRead(0)); // mode 3 counts down by two per clock, as QEMU
    }

    @Test
    void mode0OneShotRisesOnceAtTerminalCount() {
        now = T0;
        ctl(0x30);
        out(0, 0x88);
        out(0, 0x13); // 5000
        assertEquals(List.of(false), irq);
        now = tick(1000);
        assertEquals(4000, latchAndRead(0));
        expectTransition(tick(5000), true);
        assertEquals(-1, pit.nextTransitionNanos()); // one-shot: nothing more
        at(tick(50_000));
        assertEquals(2, irq.size());
        now = tick(5001);
        assertEquals(0xffff, latchAndRead(0)); // the counter wraps and keeps counting
    }

    @Test
    void reprogrammingReplans() {
        now = T0;
        ctl(0x34);
        out(0, 0x00);
        out(0, 0x10); // 4096
        assertEquals(tick(4096), pit.nextTransitionNanos());
        now = tick(100);
        out(0, 0x00);
        out(0, 0x01); // 256, loaded at tick(100)
        assertEquals(now + Pit8254.nanos(256), pit.nextTransitionNanos());
    }

    @Test
    void latchHoldsValueUntilRead() {
        now = T0;
        ctl(0xb4); // channel 2, lohi, mode 2
        out(2, 0x00);
        out(2, 0x20); // 0x2000
        now = tick(0x100);
        ctl(0x80); // latch channel 2
        now = tick(0x500);
        ctl(0x80); // a second latch before reading is ignored
        assertEquals(0x1f00, readWord(2));
        assertEquals(0x2000 - 0x500, readWord(2)); // live again
    }

    @Test
    void readBackStatusThenCount() {
        now = T0;
        ctl(0x34);
        out(0, 0x00);
        out(0, 0x10);
        now = tick(0x10);
        ctl(0xc2); // read-back: count and status of channel 0
        assertEquals(0x34, in(0)); // OUT 0, lohi (3), mode 2, binary
        assertEquals(0x0ff0, readWord(0));
        now = tick(0x1000); // OUT is high for this one tick of mode 2
        ctl(0xe2); // status only
        assertEquals(0xb4, in(0));
        now = tick(0x1010);
        assertEquals(0x0ff0, readWord(0)); // and the count is live
    }

    @Test
    void accessModesLobyteAndHibyte() {
        now = T0;
        ctl(0x90); // channel 2, lobyte only, mode 0
        out(2, 0x50);
        now = tick(0x10);
        assertEquals(0x40, in(2));
        assertEquals(0x40, in(2)); // every read is the low byte
        ctl(0xa0); // hibyte only
        out(2, 0x12);
        now = tick(0x10 + 0x100);
        assertEquals(0x11, in(2));
    }

    @Test
    void bcdCounting() {
        now = T0;
        ctl(0xb1); // channel 2, lohi, mode 0, BCD
        out(2, 0x00);
        out(2, 0x10); // 1000 decimal
        now = tick(1);
        assertEquals(0x0999, latchAndRead(2));
        now = tick(1001);
        assertEquals(0x9999, latchAndRead(2)); // wraps modulo 10000
        ctl(0xe8); // read-back: status only, of channel 2
        assertEquals(0x31, in(2) & 0x7f);
        ctl(0xb1);
        out(2, 0);
        out(2, 0); // 0 is 10000 in BCD
        now += Pit8254.nanos(1);
        assertEquals(0x9999, latchAndRead(2));
    }

    /** arch/x86/kernel/tsc.c pit_calibrate_tsc: gate channel 2 on, mode 0, poll port 0x61 bit 5. */
    @Test
    void linuxTscCalibrationThroughPort61() {
        now = T0;
        int latch = 1193182 / (1000 / 50);
        int v61 = (int) pit.speaker().read(0, 1);
        assertEquals(0, v61 & 1); // channel 2's gate is low after reset
        pit.speaker().write(0, 1, (v61 & ~0x02) | 0x01);
        ctl(0xb0);
        out(2, latch & 0xff);
        out(2, latch >> 8);
        now = tick(latch - 1);
        int r = (int) pit.speaker().read(0, 1);
        assertEquals(0, r & 0x20);
        assertEquals(1, r & 1);
        assertEquals(0, r & 2);
        now = tick(latch);
        int r2 = (int) pit.speaker().read(0, 1);
        assertEquals(0x20, r2 & 0x20);
        assertEquals(0x10, (r ^ r2) & 0x10); // the refresh bit toggles on every read
        assertTrue(irq.isEmpty()); // channel 2 drives no interrupt
    }

    /** arch/x86/kernel/tsc.c quick_pit_calibrate: read the MSB of a free-running channel 2 count. */
    @Test
    void linuxQuickCalibrationReadsDecreasingMsb() {
        now = T0;
        pit.speaker().write(0, 1, 0x01);
        ctl(0xb0);
        out(2, 0xff);
        out(2, 0xff);
        int last = 0x100;
        for (int i = 1; i <= 10; i++) {
            now = tick(256L * i + 3);
            in(2); // LSB, discarded
            int msb = in(2);
            assertEquals(0xff - i, msb);
            assertTrue(msb < last);
            last = msb;
        }
    }

    @Test
    void gateRisingEdgeRestartsModes2And3() {
        now = T0;
        ctl(0xb6); // channel 2, lohi, mode 3
        out(2, 0x00);
        out(2, 0x10);
        pit.speaker().write(0, 1, 0x00);
        now = tick(0x100);
        assertEquals(0x1000 - 0x200, latchAndRead(2));
        pit.speaker().write(0, 1, 0x01); // rising gate: counting restarts now
        assertEquals(0x1000, latchAndRead(2));
        now += Pit8254.nanos(0x80);
        assertEquals(0x1000 - 0x100, latchAndRead(2));
        pit.speaker().write(0, 1, 0x01); // still high: no restart
        assertEquals(0x1000 - 0x100, latchAndRead(2));
    }

    @Test
    void powerOnSquareWaveRunsFromConstructionAsQemus() {
        List<Boolean> line = new ArrayList<>();
        now = T0;
        Pit8254 p = new Pit8254(line::add, () -> now, false);
        assertEquals(List.of(true), line); // mode 3, count 0x10000: OUT high at load
        assertEquals(T0 + Pit8254.nanos(0x8000), p.nextTransitionNanos());
        now = T0 + Pit8254.nanos(0x10000) + 1;
        p.advanceTo(now);
        assertEquals(List.of(true, false, true), line); // 18.2 Hz: low at half the period, high again at its end
        p.ports().write(3, 1, 0xe2); // read-back status of channel 0 as QEMU's power-on state: access mode 0
        assertEquals(0x86, p.ports().read(0, 1));
    }

    @Test
    void noThreadUntilChannel0IsProgrammedOrTheTimerIsStarted() throws Exception {
        long before = pitThreads();
        List<Boolean> line = java.util.Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        Pit8254 lazy = new Pit8254(line::add, () -> System.nanoTime());
        try {
            lazy.ports().read(0, 1);
            lazy.ports().write(3, 1, 0x34); // a control word alone loads nothing
            assertFalse(lazy.timerThreadStarted());
            assertEquals(before, pitThreads());
            // startTimer delivers what is already due on the calling thread, then starts the thread.
            while (System.nanoTime() - start < Pit8254.nanos(0x8000) + 1_000_000) {
                Thread.sleep(5);
            }
            lazy.startTimer();
            assertTrue(lazy.timerThreadStarted());
            assertTrue(line.size() >= 2 && !line.get(1), "the transition due before startTimer: " + line);
            lazy.startTimer(); // idempotent
        } finally {
            lazy.close();
        }
        Pit8254 real = new Pit8254(level -> { }, System::nanoTime);
        try {
            real.ports().read(0, 1);
            real.ports().write(3, 1, 0xb0);
            real.ports().write(2, 1, 0xff);
            real.ports().write(2, 1, 0xff);
            real.speaker().write(0, 1, 1);
            real.speaker().read(0, 1);
            real.ports().write(3, 1, 0x34); // a control word alone loads nothing
            assertFalse(real.timerThreadStarted());

            real.ports().write(0, 1, 0x00);
            real.ports().write(0, 1, 0x00); // 65536: 18.2 Hz, nothing fires during the test
            assertTrue(real.timerThreadStarted());
            Thread t = Thread.getAllStackTraces().keySet().stream()
                    .filter(th -> th.getName().equals("pit") && th.isAlive()).findFirst().orElseThrow();
            assertTrue(t.isDaemon());
            real.close();
            t.join(2000);
            assertFalse(t.isAlive());
            real.close(); // idempotent
        } finally {
            real.close();
        }
    }

    @Test
    void threadDeliversTransitionsInRealTime() throws Exception {
        List<Boolean> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Pit8254 real = new Pit8254(seen::add, System::nanoTime)) {
            seen.clear(); // the power-on level
            real.ports().write(3, 1, 0x36);
            // 20 Hz square wave, a transition every 25 ms: slow enough that only a 1.6 s stall of this thread
            // could make the timer skip transitions and break the alternation checked below.
            real.ports().write(0, 1, 59659 & 0xff);
            real.ports().write(0, 1, 59659 >> 8);
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (seen.size() < 6 && System.nanoTime() < deadline) {
                Thread.sleep(1); // only waits for the timer thread; the assertions do not depend on timing
            }
            assertTrue(seen.size() >= 6, "transitions: " + seen.size());
            synchronized (seen) {
                for (int i = 1; i < 6; i++) {
                    assertEquals(i % 2 == 0, seen.get(i)); // high, low, high, ...
                }
            }
        }
    }

    @Test
    void badInputNeverThrows() {
        assertDoesNotThrow(() -> {
            pit.ports().write(7, 1, 0x34);
            pit.ports().write(-1, 4, -1);
            pit.ports().read(9, 1);
            pit.speaker().write(3, 1, 0xff);
            pit.speaker().read(1, 1);
            pit.ports().read(0, 2);
        });
        assertEquals(0, pit.ports().read(3, 1)); // the control register is write-only and reads 0, as QEMU
    }

    private static long pitThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("pit")).count();
    }

    @Test
    void resetRestartsChannel0At18HzKeepingTheAccessMode() {
        now = T0;
        ctl(0x34);
        out(0, 0x00);
        out(0, 0x10);
        at(tick(0x1000));
        long resetAt = tick(0x1234);
        now = resetAt;
        pit.reset();
        assertEquals(true, irq.get(irq.size() - 1), "mode 3 starts with OUT high");
        assertEquals(resetAt + Pit8254.nanos(0x8000), pit.nextTransitionNanos(), "the 18.2 Hz square wave");
        at(resetAt + Pit8254.nanos(0x8000));
        assertEquals(false, irq.get(irq.size() - 1));
        ctl(0xe2); // read-back status: mode 3, and the lohi access mode QEMU's reset leaves as programmed
        assertEquals(0x36, in(0) & 0x3f);
    }
}
