package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fills the gaps between devices on a bus so that every access nobody handles is seen: reads return what
 * QEMU returns for unassigned space (all ones on the I/O bus, zero on MMIO), writes are dropped, and each access
 * is reported on stderr, rate-limited to {@link #BURST} lines per second with a count of those suppressed, so a
 * hostile guest cannot flood the log or slow the VMM down with it.
 *
 * <p>Thread-safe: the counters are atomic; reports may interleave between vCPUs.
 */
public final class Unassigned implements BusDevice {
    /** Reports allowed per one-second window. */
    public static final int BURST = 10;

    private final String bus;
    private final long base;
    private final boolean pio;
    private final Reports reports;

    /** Shared rate limit and totals for all unassigned ranges of a machine. */
    public static final class Reports {
        private final java.util.function.Consumer<String> err;
        private final AtomicLong total = new AtomicLong();
        private final AtomicLong suppressed = new AtomicLong();
        private volatile long windowStart;
        private final AtomicLong inWindow = new AtomicLong();

        /** Reports to {@code err}. */
        public Reports(PrintStream err) {
            this(line -> err.println("isthmus-vmm: " + line));
        }

        /** Reports each line to {@code sink} (the -d log). */
        public Reports(java.util.function.Consumer<String> sink) {
            this.err = sink;
        }

        /** Unassigned accesses so far. */
        public long total() {
            return total.get();
        }

        void report(String bus, boolean write, long address, int size, long value) {
            total.incrementAndGet();
            long now = System.nanoTime();
            if (now - windowStart > 1_000_000_000L) {
                windowStart = now;
                long s = suppressed.getAndSet(0);
                inWindow.set(0);
                if (s > 0) {
                    err.accept(s + " more unassigned accesses not shown");
                }
            }
            if (inWindow.incrementAndGet() <= BURST) {
                err.accept("unassigned " + bus + (write ? " write" : " read") + " at 0x"
                        + Long.toHexString(address) + " size " + size
                        + (write ? " value 0x" + Long.toHexString(value) : ""));
            } else {
                suppressed.incrementAndGet();
            }
        }

        /** Prints the count of suppressed reports, if any (at exit). */
        public void flushSummary() {
            long s = suppressed.getAndSet(0);
            if (s > 0) {
                err.accept(s + " more unassigned accesses not shown (" + total() + " in all)");
            }
        }
    }

    /** A filler for the range starting at {@code base} of {@code bus} ("PIO" or "MMIO"). */
    public Unassigned(String bus, long base, boolean pio, Reports reports) {
        this.bus = bus;
        this.base = base;
        this.pio = pio;
        this.reports = reports;
    }

    @Override
    public long read(long offset, int size) {
        reports.report(bus, false, base + offset, size, 0);
        return pio ? -1L : 0L;
    }

    @Override
    public void write(long offset, int size, long value) {
        reports.report(bus, true, base + offset, size, value);
    }
}
