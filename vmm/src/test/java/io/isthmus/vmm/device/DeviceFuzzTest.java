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
 * {@code src/test/resources/io/isthmus/vmm/device/DeviceFuzzTestInputs/<method>/}. Devices that plug are plugged into
 * a {@link FuzzPlatform} as the machine plugs them and driven by absolute port and MMIO address.
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
        FuzzPlatform p = new FuzzPlatform();
        Serial16550 uart = new Serial16550(out);
        uart.plug(p); // as the machine plugs it: COM1's ports and ISA IRQ 4 (a line that checks its edges)
        int com1 = Serial16550.COM1;
        long transmitted = 0;
        int flushes = 0, overruns = 0;
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            switch (d.consumeInt(0, 5)) {
                case 0 -> p.in(com1 + d.consumeInt(0, 7), size(d, PIO_SIZES));
                case 1 -> {
                    int off = d.consumeInt(0, 7);
                    if (off == 0) {
                        transmitted++;
                    }
                    p.out(com1 + off, size(d, PIO_SIZES), d.consumeLong());
                }
                case 2 -> uart.receive(d.consumeByte());
                case 3 -> {
                    // Overrun: the receive buffer must stay bounded (once per input: a few thousand bytes in a
                    // row is what it takes, and repeated they dominated the run time: 55 exec/s).
                    if (overruns++ == 0) {
                        for (int i = d.consumeInt(0, 5000); i > 0; i--) {
                            uart.receive((byte) i);
                        }
                    } else {
                        uart.receive(d.consumeByte());
                    }
                }
                case 4 -> {
                    // Waits for the output thread: a hand-over between threads, so once per input.
                    if (flushes++ == 0) {
                        uart.flush();
                    }
                }
                default -> {
                    long lsr = p.in(com1 + 5, 1);
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
        p.out(com1, 1, 'x');
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
        FuzzPlatform p = new FuzzPlatform();
        new CmosRtc(d.consumeLong(0, 3L << 30), d.consumeLong(0, 1L << 40)).plug(p);
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            if (d.consumeBoolean()) {
                p.out(CmosRtc.PORT + d.consumeInt(0, 1), size(d, PIO_SIZES), d.consumeLong());
            } else {
                long v = p.in(CmosRtc.PORT + d.consumeInt(0, 1), 1);
                if ((v & ~0xffL) != 0) {
                    throw new AssertionError("CMOS byte " + v);
                }
            }
        }
    }

    @FuzzTest
    void debugExit(FuzzedDataProvider d) {
        FuzzPlatform p = new FuzzPlatform();
        int iobase = d.consumeInt(0, 0xfffc), iosize = d.pickValue(PIO_SIZES);
        new DebugExit(iobase, iosize).plug(p);
        while (d.remainingBytes() > 0) {
            int size = d.pickValue(PIO_SIZES);
            long value = d.consumeLong();
            int off = d.consumeInt(0, 3);
            if (d.consumeBoolean()) {
                long v = p.in(iobase + off, size);
                if (off < iosize && v != 0) {
                    throw new AssertionError("isa-debug-exit read " + v);
                }
                continue;
            }
            int before = p.exits.size();
            p.out(iobase + off, size, value);
            if (off >= iosize) {
                if (p.exits.size() != before) {
                    throw new AssertionError("an exit from port " + (iobase + off) + " outside the device");
                }
                continue;
            }
            long v = value & ((1L << (size * 8)) - 1);
            int status = p.exits.get(p.exits.size() - 1);
            if (p.exits.size() != before + 1 || status != (int) ((v << 1) | 1) || (status & 1) != 1) {
                throw new AssertionError("status " + status + " for a " + size + "-byte write of " + value);
            }
        }
    }

    /**
     * The small devices of the machine plugged together as {@code MachineBuilder} plugs them (the UART, the i8042
     * reset, the RTC, the ACPI sleep/reset registers, an isa-debug-exit), then random port and MMIO accesses near
     * and inside their ranges: nothing throws, and only the writes QEMU defines end or reset the machine.
     */
    @FuzzTest
    void machineDevices(FuzzedDataProvider d) {
        FuzzPlatform p = new FuzzPlatform();
        Serial16550 uart = new Serial16550(new CountingOut());
        for (Device dev : new Device[] {uart, new I8042Reset(), new CmosRtc(64 << 20, 0), new AcpiGedRegs(),
                new DebugExit(0xf4, 4)}) {
            dev.plug(p);
        }
        long[] ports = p.portBases(), mmio = p.mmioBases();
        try {
            for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
                boolean isPio = d.consumeBoolean();
                long[] bases = isPio ? ports : mmio;
                long base = bases[d.consumeInt(0, bases.length - 1)];
                long at = base + d.consumeInt(-2, (int) (isPio ? p.pioLength(base) : p.mmioLength(base)) + 1);
                int size = size(d, isPio ? PIO_SIZES : MMIO_SIZES);
                int exits = p.exits.size(), resets = p.resets.size();
                if (d.consumeBoolean()) {
                    if (isPio) {
                        p.in(at, size);
                    } else {
                        p.read(at, size);
                    }
                    if (p.exits.size() != exits || p.resets.size() != resets) {
                        throw new AssertionError("a read at 0x" + Long.toHexString(at) + " ended or reset the machine");
                    }
                } else {
                    long value = d.consumeLong();
                    if (isPio) {
                        p.out(at, size, value);
                    } else {
                        p.write(at, size, value);
                    }
                    if (p.exits.size() > exits + 1 || p.resets.size() > resets + 1) {
                        throw new AssertionError("one write, several exits or resets");
                    }
                }
            }
        } finally {
            uart.close();
        }
    }
}
