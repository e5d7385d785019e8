package io.isthmus.vmm.device;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.vmm.FuzzCoverage;
import java.io.OutputStream;
import java.util.ArrayDeque;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The device models a guest drives, each on a stream of random accesses decoded from the fuzzer's bytes: reads and
 * writes at every offset the machine maps them at, with every access size (1, 2, 4; 8 on MMIO), interleaved with
 * what the rest of the machine does to them (interrupt lines, acknowledges, EOIs, time passing, received bytes,
 * resets). A device may answer anything but must not throw, hang or grow without bound, and its outputs must stay
 * in range (vectors 0-255, IOAPIC pins 0-23, the debug exit's status). Corpus:
 * {@code src/test/resources/io/isthmus/vmm/device/DeviceFuzzTestInputs/<method>/}.
 */
@ExtendWith(FuzzCoverage.class)
class DeviceFuzzTest {
    /** Accesses per input at most: a fuzz input is a burst of guest activity, not an endless run. */
    static final int MAX_OPS = 4096;
    static final int[] PIO_SIZES = {1, 2, 4};
    static final int[] MMIO_SIZES = {1, 2, 4, 8};

    private static int size(FuzzedDataProvider d, int[] sizes) {
        return d.pickValue(sizes);
    }

    /** An interrupt line that checks it only ever changes level (the UART raises on edges of its own state). */
    static final class EdgeLine implements IrqLine {
        private boolean level;
        long edges;

        @Override
        public void set(boolean l) {
            if (l == level) {
                throw new AssertionError("line set to " + l + " twice in a row");
            }
            level = l;
            edges++;
        }
    }

    /** A backend that counts and forgets: what the guest transmits must not pile up in the device. */
    static final class CountingOut extends OutputStream {
        long bytes;

        @Override
        public void write(int b) {
            bytes++;
        }
    }

    @FuzzTest
    void serial(FuzzedDataProvider d) {
        CountingOut out = new CountingOut();
        EdgeLine irq = new EdgeLine();
        Serial16550 uart = new Serial16550(out, irq);
        long transmitted = 0;
        int flushes = 0;
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            switch (d.consumeInt(0, 5)) {
                case 0 -> uart.read(d.consumeInt(0, 7), size(d, PIO_SIZES));
                case 1 -> {
                    int off = d.consumeInt(0, 7);
                    if (off == 0) {
                        transmitted++;
                    }
                    uart.write(off, size(d, PIO_SIZES), d.consumeLong());
                }
                case 2 -> uart.receive(d.consumeByte());
                case 3 -> {
                    for (int i = d.consumeInt(0, 5000); i > 0; i--) {
                        uart.receive((byte) i); // overrun: the receive buffer must stay bounded
                    }
                }
                case 4 -> {
                    // Waits for the output thread: a hand-over between threads, so once per input.
                    if (flushes++ == 0) {
                        uart.flush();
                    }
                }
                default -> {
                    long lsr = uart.read(5, 1);
                    if ((lsr & ~0xffL) != 0) {
                        throw new AssertionError("LSR " + lsr + " wider than a byte");
                    }
                }
            }
        }
        if (out.bytes > transmitted) {
            throw new AssertionError(out.bytes + " bytes out for " + transmitted + " THR writes");
        }
        uart.close();
        uart.write(0, 1, 'x');
        if (out.bytes > transmitted) {
            throw new AssertionError("a byte went out after close");
        }
    }

    @FuzzTest
    void pic(FuzzedDataProvider d) {
        int[] kicks = {0};
        Pic8259 pic = new Pic8259(() -> kicks[0]++);
        BusDevice[] ports = {pic.master(), pic.slave(), pic.elcr()};
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            switch (d.consumeInt(0, 5)) {
                case 0 -> ports[d.consumeInt(0, 2)].read(d.consumeInt(0, 1), size(d, PIO_SIZES));
                case 1 -> ports[d.consumeInt(0, 2)].write(d.consumeInt(0, 1), size(d, PIO_SIZES), d.consumeLong());
                case 2 -> pic.setIrq(d.consumeInt(-1, 16), d.consumeBoolean());
                case 3 -> {
                    int vector = pic.acknowledge();
                    if (vector < 0 || vector > 255) {
                        throw new AssertionError("vector " + vector);
                    }
                }
                case 4 -> pic.hasInterrupt();
                default -> pic.reset();
            }
        }
    }

    @FuzzTest
    void pit(FuzzedDataProvider d) {
        long[] now = {d.consumeLong(0, 1L << 50)};
        Pit8254 pit = new Pit8254(level -> { }, () -> now[0], false);
        BusDevice ports = pit.ports(), speaker = pit.speaker();
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            switch (d.consumeInt(0, 5)) {
                case 0 -> ports.read(d.consumeInt(0, 3), size(d, PIO_SIZES));
                case 1 -> ports.write(d.consumeInt(0, 3), size(d, PIO_SIZES), d.consumeLong());
                case 2 -> speaker.read(d.consumeInt(0, 1), size(d, PIO_SIZES));
                case 3 -> speaker.write(d.consumeInt(0, 1), size(d, PIO_SIZES), d.consumeLong());
                case 4 -> {
                    // Time passes, by microseconds (every transition delivered) or by hours (the timer thread
                    // woke late: it catches up a bounded number, then jumps).
                    if (d.consumeBoolean()) {
                        now[0] += d.consumeLong(0, 100_000);
                        pit.advanceTo(now[0]);
                    } else {
                        now[0] += d.consumeLong(0, 1L << 42);
                        pit.wakeTimerAt(now[0]);
                    }
                    pit.nextTransitionNanos();
                }
                default -> pit.reset();
            }
        }
        pit.close();
    }

    @FuzzTest
    void ioapic(FuzzedDataProvider d) {
        long[] delivered = {0};
        ArrayDeque<Runnable> later = new ArrayDeque<>();
        Ioapic.Output out = new Ioapic.Output() {
            @Override
            public void route(int pin, long msiAddress, int msiData, boolean masked) {
                if (pin < 0 || pin >= Ioapic.PINS) {
                    throw new AssertionError("route for pin " + pin);
                }
            }

            @Override
            public void deliver(long msiAddress, int msiData) {
                delivered[0]++;
            }
        };
        Ioapic io = new Ioapic(out, task -> {
            if (later.size() > 64) {
                throw new AssertionError("the storm back-off queued " + later.size() + " deferred services");
            }
            later.add(task);
        });
        int storms = 0;
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            switch (d.consumeInt(0, 6)) {
                case 0 -> io.read(d.consumeBoolean() ? d.pickValue(new int[] {0, 0x10}) : d.consumeInt(0, 0xfff),
                        size(d, MMIO_SIZES));
                case 1 -> io.write(d.consumeBoolean() ? d.pickValue(new int[] {0, 0x10}) : d.consumeInt(0, 0xfff),
                        size(d, MMIO_SIZES), d.consumeLong());
                case 2 -> io.setIrq(d.consumeInt(-1, Ioapic.PINS), d.consumeBoolean());
                case 3 -> io.eoi(d.consumeInt(0, 255));
                case 4 -> {
                    Runnable task = later.poll();
                    if (task != null) {
                        task.run();
                    }
                }
                case 5 -> {
                    // A level line left high with its vector EOId again and again: the storm the back-off bounds
                    // (once per input: 10,000 EOIs in a row is what it takes, and they dominate the run time).
                    if (storms++ == 0) {
                        int pin = d.consumeInt(0, Ioapic.PINS - 1);
                        io.setIrq(pin, true);
                        int vector = d.consumeInt(0, 255);
                        for (int i = d.consumeInt(0, 12_000); i > 0; i--) {
                            io.eoi(vector);
                        }
                    }
                }
                default -> io.reset();
            }
        }
    }

    @FuzzTest
    void rtc(FuzzedDataProvider d) {
        CmosRtc rtc = new CmosRtc(d.consumeLong(0, 3L << 30), d.consumeLong(0, 1L << 40));
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            if (d.consumeBoolean()) {
                rtc.write(d.consumeInt(0, 1), size(d, PIO_SIZES), d.consumeLong());
            } else {
                rtc.read(d.consumeInt(0, 1), size(d, PIO_SIZES));
            }
        }
    }

    @FuzzTest
    void debugExit(FuzzedDataProvider d) {
        int[] status = {-1};
        DebugExit dev = new DebugExit(new MachineControl() {
            @Override
            public void exit(int s, String why) {
                status[0] = s;
            }

            @Override
            public void reset(String why) { }
        });
        while (d.remainingBytes() > 0) {
            int size = d.pickValue(PIO_SIZES);
            long value = d.consumeLong();
            if (d.consumeBoolean()) {
                dev.read(d.consumeInt(0, 3), size);
                continue;
            }
            dev.write(d.consumeInt(0, 3), size, value);
            long v = value & ((1L << (size * 8)) - 1);
            if (status[0] != (int) ((v << 1) | 1) || (status[0] & 1) != 1) {
                throw new AssertionError("status " + status[0] + " for a " + size + "-byte write of " + value);
            }
        }
    }
}
