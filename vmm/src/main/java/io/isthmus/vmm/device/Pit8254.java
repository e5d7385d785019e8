package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * An 8254 programmable interval timer clocked at 1193182 Hz: three channels at ports 0x40-0x42 with the control
 * word register at 0x43, and port 0x61 (channel 2's gate, the speaker data bit, the refresh toggle and channel
 * 2's OUT), as QEMU's {@code hw/timer/i8254.c}, {@code i8254_common.c} and {@code hw/audio/pcspk.c} model them.
 *
 * <p>No counter ticks anywhere: a channel remembers when its count was loaded, and reads, OUT and the next OUT
 * transition are computed from the clock, as QEMU's {@code pit_get_count}, {@code pit_get_out} and
 * {@code pit_get_next_transition_time}. Modes 0-5 (6 and 7 alias 2 and 3), the four access modes, counter latch,
 * the read-back command (count and status), BCD counting and the gate's rising-edge restart in modes 1, 2, 3
 * and 5 are modelled. As in QEMU, a low gate does not pause counting and the status byte's null-count bit is
 * always 0.
 *
 * <p>Channel 0 drives {@code irq0} on each OUT transition from power-on, as QEMU's: its reset state is an 18.2 Hz
 * square wave (mode 3, count 0x10000). The transitions are delivered by one daemon platform thread named
 * {@code pit}, which parks until the next transition, sets the line, and re-plans; it starts only when something
 * could observe them: the guest loads channel 0's count, or the VMM calls {@link #startTimer()} (on the guest's
 * first access to an interrupt controller). Transitions due by then are delivered at once on the calling thread,
 * so the controllers' state is as if the thread had run all along, and a guest that never touches them costs no
 * thread.
 *
 * <p>Lifetime: one per VM; {@link #close()} stops the thread. Threading: all methods are thread-safe (the
 * object's monitor). {@code irq0.set} is called with that monitor held (so calls are never reordered), so the
 * line must not call back into this PIT.
 */
public final class Pit8254 implements AutoCloseable {
    /** The input clock, in Hz. */
    public static final long FREQUENCY = 1_193_182;
    private static final long NANOS = 1_000_000_000L;
    private static final int RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4;
    /**
     * How many overdue transitions one wake-up delivers one by one before jumping to the present: after a long
     * host stall, a burst of stale edges helps no guest (the PIC latches one), so they are dropped.
     */
    private static final int MAX_CATCH_UP = 64;
    /**
     * The timer thread sleeps at least this long between wake-ups. Legitimate rates (Linux's HZ=1000 is a 1193
     * tick period) are unaffected apart from mode 2's one-tick pulse, whose falling edge arrives up to this late
     * (harmless: the PIC and IOAPIC act on rising edges); a guest programming a count of 1 or 2, which would have
     * the transitions a microsecond apart, costs at most 10000 wake-ups a second instead of a spinning core.
     */
    private static final long MIN_PARK_NANOS = 100_000;

    private final IrqLine irq0;
    private final LongSupplier clock;
    private final boolean threadAllowed;
    private final Channel[] channels = new Channel[3];
    private final BusDevice ports = new Ports();
    private final BusDevice speaker = new Speaker();

    /** When channel 0's OUT next changes, in clock nanoseconds; -1 for never. */
    private long nextTransition = -1;
    /** Whether the timer thread may run: from the first load of channel 0's count or {@link #startTimer()}. */
    private volatile boolean armed; // volatile for startTimer()'s lock-free fast path; written under the lock
    private Thread thread;
    private boolean closed;
    private boolean speakerData;
    private int refreshToggle;

    /**
     * A PIT in QEMU's power-on state (every channel mode 3, count 0x10000, loaded now; gates of channels 0 and 1
     * high, channel 2's low; access modes and latches zero); channel 0's OUT is put on {@code irq0} at once (high),
     * but no thread is started.
     *
     * @param irq0      the line channel 0's OUT drives (ISA IRQ 0)
     * @param nanoClock the time base, in nanoseconds ({@code System::nanoTime} in the VMM); must be monotonic
     */
    public Pit8254(IrqLine irq0, LongSupplier nanoClock) {
        this(irq0, nanoClock, true);
    }

    /** As the public constructor; with {@code threadAllowed} false, tests drive channel 0 with {@link #advanceTo}. */
    Pit8254(IrqLine irq0, LongSupplier nanoClock, boolean threadAllowed) {
        this.irq0 = irq0;
        this.clock = nanoClock;
        this.threadAllowed = threadAllowed;
        long now = nanoClock.getAsLong();
        for (int i = 0; i < 3; i++) {
            channels[i] = new Channel(i != 2, now);
        }
        synchronized (this) {
            planChannel0(now);
        }
    }

    /**
     * Starts delivering channel 0's transitions in real time: delivers those already due, then starts the timer
     * thread. Idempotent; cheap once started.
     */
    public void startTimer() {
        if (armed) {
            return;
        }
        synchronized (this) {
            armed = true;
            long now = clock.getAsLong();
            fireDue(now, MAX_CATCH_UP);
            irqTimerUpdate(now);
        }
    }

    /** Channel 0's line and next transition, computed now; no thread is started. */
    private void planChannel0(long now) {
        Channel c = channels[0];
        nextTransition = c.nextTransition(now);
        irq0.set(c.out(now));
    }

    /** Ports 0x40-0x43 (offsets 0-3): the three counters and the write-only control word register. */
    public BusDevice ports() {
        return ports;
    }

    /** Port 0x61: bit 0 channel 2's gate, bit 1 speaker data, bit 4 a refresh toggle, bit 5 channel 2's OUT. */
    public BusDevice speaker() {
        return speaker;
    }

    /**
     * A system reset, as QEMU's {@code pit_reset_common}: every channel back to mode 3 with count 0x10000 and its
     * reset gate, loaded now; what QEMU's reset leaves alone (access modes, latches, BCD) stays. Channel 0 goes on
     * driving irq0 with the 18.2 Hz square wave.
     */
    public synchronized void reset() {
        long now = clock.getAsLong();
        for (int i = 0; i < 3; i++) {
            Channel c = channels[i];
            c.mode = 3;
            c.gate = i != 2;
            c.loadTime = now;
            c.count = 0x10000;
        }
        if (armed) {
            irqTimerUpdate(now);
        } else {
            planChannel0(now);
        }
    }

    /** When channel 0's OUT next changes, in clock nanoseconds, or -1 if channel 0 is not driving irq0 or never will. */
    public synchronized long nextTransitionNanos() {
        return nextTransition;
    }

    /** Stops the timer thread (waiting briefly for it to end); idempotent. The ports keep working, without irq0. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            closed = true;
            t = thread;
        }
        if (t != null) {
            LockSupport.unpark(t);
            if (t != Thread.currentThread()) {
                try {
                    t.join(1000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** Test hook: delivers, synchronously, every channel 0 transition due at or before {@code nanos}. */
    synchronized void advanceTo(long nanos) {
        fireDue(nanos, Integer.MAX_VALUE);
    }

    /**
     * Test hook: what the timer thread does when it wakes at {@code nanos} (late, perhaps by hours): at most
     * {@code MAX_CATCH_UP} transitions delivered one by one, then a jump to now.
     */
    synchronized void wakeTimerAt(long nanos) {
        fireDue(nanos, MAX_CATCH_UP);
    }

    /** Test hook: whether the timer thread was ever started. */
    synchronized boolean timerThreadStarted() {
        return thread != null;
    }

    // ---- timer ----

    /** Delivers transitions due by {@code now}, at most {@code limit} individually, then jumps to {@code now}. */
    private void fireDue(long now, int limit) {
        int n = 0;
        while (nextTransition != -1 && nextTransition <= now) {
            if (++n > limit) {
                planChannel0(now);
                return;
            }
            // Evaluate OUT at the transition instant itself, as QEMU's timer callback does.
            planChannel0(nextTransition);
        }
    }

    /** QEMU's {@code pit_irq_timer_update} for channel 0: drive the line, plan the next transition, wake the thread. */
    private void irqTimerUpdate(long now) {
        if (closed) {
            return;
        }
        planChannel0(now);
        if (!armed) {
            return;
        }
        if (thread == null && threadAllowed && nextTransition != -1) {
            Thread t = new Thread(this::runTimer, "pit");
            t.setDaemon(true);
            thread = t;
            t.start();
        } else if (thread != null && thread != Thread.currentThread()) {
            LockSupport.unpark(thread); // a vCPU reprogrammed channel 0: re-plan with the new deadline
        }
    }

    private void runTimer() {
        while (true) {
            long delay;
            synchronized (this) {
                if (closed) {
                    return;
                }
                long now = clock.getAsLong();
                fireDue(now, MAX_CATCH_UP);
                delay = nextTransition == -1 ? -1 : nextTransition - now;
            }
            // A reprogramming between the unlock and the park leaves a permit, so the park returns at once.
            if (delay < 0) {
                LockSupport.park(this);
            } else {
                LockSupport.parkNanos(this, Math.max(delay, MIN_PARK_NANOS));
            }
        }
    }

    // ---- channels ----

    /** Ticks of the 1193182 Hz clock in {@code dt} nanoseconds, rounded down, without overflow. */
    static long ticks(long dt) {
        if (dt <= 0) {
            return 0;
        }
        return dt / NANOS * FREQUENCY + dt % NANOS * FREQUENCY / NANOS;
    }

    /**
     * Nanoseconds until {@code ticks} clock ticks have elapsed, rounded up so that {@link #ticks} of the result is
     * exactly {@code ticks}: QEMU rounds down here, which can make the timer see the counter one tick short of
     * the transition it was set for.
     */
    static long nanos(long ticks) {
        long r = ticks % FREQUENCY;
        return ticks / FREQUENCY * NANOS + (r * NANOS + FREQUENCY - 1) / FREQUENCY;
    }

    /** One counter's state, as QEMU's {@code PITChannelState}. Guarded by the enclosing {@code Pit8254}. */
    private final class Channel {
        int count = 0x10000; // the reload value in ticks (a BCD count is kept as its binary value)
        long loadTime;
        int latchedCount;
        int countLatched; // 0, or the access mode the latched count is read with
        boolean statusLatched;
        int status;
        int readState, writeState, rwMode; // 0 at power-on, as QEMU's zeroed state (reads and writes act as LSB)
        int writeLatch;
        int mode = 3;
        boolean bcd;
        boolean gate;

        Channel(boolean gate, long now) {
            this.gate = gate;
            this.loadTime = now;
        }

        /** Modes 6 and 7 are the chip's aliases of 2 and 3. */
        int effectiveMode() {
            return mode >= 6 ? mode - 4 : mode;
        }

        long elapsed(long now) {
            return ticks(now - loadTime);
        }

        boolean out(long now) {
            long d = elapsed(now);
            return switch (effectiveMode()) {
                case 1 -> d < count; // as QEMU models it
                case 2 -> d != 0 && d % count == 0;
                case 3 -> d % count < (count + 1) >> 1;
                case 4, 5 -> d == count;
                default -> d >= count; // mode 0: high from terminal count on
            };
        }

        long nextTransition(long now) {
            long d = elapsed(now);
            long next;
            switch (effectiveMode()) {
                case 2 -> {
                    // OUT is high for exactly one tick at d = k * count (QEMU's model): the next change is
                    // that pulse's end, or else the next period's pulse. (QEMU's own formula plans one tick
                    // late and only works through its rounding; with exact tick arithmetic it would miss
                    // every rising edge.)
                    long base = d - d % count;
                    next = d == base && d != 0 ? d + 1 : base + count;
                }
                case 3 -> {
                    long base = d - d % count;
                    long half = (count + 1) >> 1;
                    next = d - base < half ? base + half : base + count;
                }
                case 4, 5 -> {
                    if (d < count) {
                        next = count;
                    } else if (d == count) {
                        next = count + 1;
                    } else {
                        return -1;
                    }
                }
                default -> { // modes 0 and 1: one transition, at terminal count
                    if (d < count) {
                        next = count;
                    } else {
                        return -1;
                    }
                }
            }
            long t = loadTime + nanos(next);
            return t <= now ? now + 1 : t;
        }

        /** The counter's current value, as QEMU's {@code pit_get_count}, in BCD when the channel counts in BCD. */
        int currentCount(long now) {
            long d = elapsed(now);
            int modulus = bcd ? 10000 : 0x10000;
            int v = switch (effectiveMode()) {
                case 0, 1, 4, 5 -> Math.floorMod(count - d, modulus);
                case 3 -> (int) (count - (2 * d) % count); // QEMU's approximation, also for odd counts
                default -> (int) (count - d % count);
            };
            return bcd ? toBcd(v % 10000) : v & 0xffff;
        }

        void loadCount(int raw, long now) {
            int v = bcd ? fromBcd(raw) : raw;
            if (v == 0) {
                v = bcd ? 10000 : 0x10000;
            }
            count = v;
            loadTime = now;
        }

        void latchCount(long now) {
            if (countLatched == 0) { // a second latch before the first is read is ignored
                latchedCount = currentCount(now);
                countLatched = rwMode;
            }
        }

        /** Gate input changes, as QEMU's {@code pit_set_channel_gate}. Returns whether counting restarted. */
        boolean setGate(boolean val, long now) {
            boolean restart = false;
            int m = effectiveMode();
            if ((m == 1 || m == 2 || m == 3 || m == 5) && !gate && val) {
                loadTime = now; // a rising gate (re)starts the count
                restart = true;
            }
            gate = val;
            return restart;
        }

        int read(long now) {
            if (statusLatched) {
                statusLatched = false;
                return status;
            }
            if (countLatched != 0) {
                switch (countLatched) {
                    case RW_MSB -> {
                        countLatched = 0;
                        return (latchedCount >> 8) & 0xff;
                    }
                    case RW_WORD0 -> {
                        countLatched = RW_MSB;
                        return latchedCount & 0xff;
                    }
                    default -> {
                        countLatched = 0;
                        return latchedCount & 0xff;
                    }
                }
            }
            int v = currentCount(now);
            switch (readState) {
                case RW_MSB -> {
                    return (v >> 8) & 0xff;
                }
                case RW_WORD0 -> {
                    readState = RW_WORD1;
                    return v & 0xff;
                }
                case RW_WORD1 -> {
                    readState = RW_WORD0;
                    return (v >> 8) & 0xff;
                }
                default -> {
                    return v & 0xff;
                }
            }
        }

        /** Writes a count byte; returns whether a new count was loaded. */
        boolean write(int val, long now) {
            switch (writeState) {
                case RW_MSB -> loadCount(val << 8, now);
                case RW_WORD0 -> {
                    writeLatch = val;
                    writeState = RW_WORD1;
                    return false;
                }
                case RW_WORD1 -> {
                    loadCount(writeLatch | val << 8, now);
                    writeState = RW_WORD0;
                }
                default -> loadCount(val, now);
            }
            return true;
        }
    }

    private static int fromBcd(int v) {
        return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
    }

    private static int toBcd(int v) {
        return (v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
    }

    private void writeControl(int val, long now) {
        int ch = val >> 6;
        if (ch == 3) {
            // Read-back: bit 5 clear latches the counts, bit 4 clear the status, of the channels in bits 1-3.
            for (int i = 0; i < 3; i++) {
                if ((val & (2 << i)) == 0) {
                    continue;
                }
                Channel c = channels[i];
                if ((val & 0x20) == 0) {
                    c.latchCount(now);
                }
                if ((val & 0x10) == 0 && !c.statusLatched) {
                    c.status = (c.out(now) ? 0x80 : 0) | c.rwMode << 4 | c.mode << 1 | (c.bcd ? 1 : 0);
                    c.statusLatched = true;
                }
            }
            return;
        }
        Channel c = channels[ch];
        int access = (val >> 4) & 3;
        if (access == 0) {
            c.latchCount(now);
        } else {
            // As QEMU, a new mode takes effect with the next count written; OUT is not reset here.
            c.rwMode = access;
            c.readState = access;
            c.writeState = access;
            c.mode = (val >> 1) & 7;
            c.bcd = (val & 1) != 0;
        }
    }

    private final class Ports implements BusDevice {
        @Override
        public long read(long offset, int size) {
            synchronized (Pit8254.this) {
                long now = clock.getAsLong();
                long v = 0;
                for (int i = 0; i < size && i < 8; i++) {
                    long port = offset + i;
                    // Port 0x43 is write-only and reads 0, as in QEMU; past the range, an open bus.
                    long b = port >= 0 && port < 3 ? channels[(int) port].read(now) : port == 3 ? 0 : 0xff;
                    v |= b << (8 * i);
                }
                return v;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (Pit8254.this) {
                long now = clock.getAsLong();
                for (int i = 0; i < size && i < 8; i++) {
                    long port = offset + i;
                    int b = (int) (value >>> (8 * i)) & 0xff;
                    if (port == 3) {
                        writeControl(b, now);
                    } else if (port >= 0 && port < 3) {
                        if (channels[(int) port].write(b, now) && port == 0) {
                            armed = true;
                            irqTimerUpdate(now);
                        }
                    }
                }
            }
        }
    }

    private final class Speaker implements BusDevice {
        @Override
        public long read(long offset, int size) {
            synchronized (Pit8254.this) {
                if (offset != 0) {
                    return 0xff;
                }
                // Bit 4 flips on every read, as QEMU's dummy refresh clock: firmware delay loops wait on it.
                refreshToggle ^= 0x10;
                Channel c = channels[2];
                return (c.gate ? 1 : 0) | (speakerData ? 2 : 0) | refreshToggle
                        | (c.out(clock.getAsLong()) ? 0x20 : 0);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (Pit8254.this) {
                if (offset != 0) {
                    return;
                }
                speakerData = (value & 2) != 0;
                channels[2].setGate((value & 1) != 0, clock.getAsLong());
            }
        }
    }
}
