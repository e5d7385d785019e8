package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * An 82093AA-style I/O APIC as QEMU's {@code hw/intc/ioapic.c} (version 0x20, 24 pins), for MMIO at
 * 0xfec00000: IOREGSEL at offset 0x00, IOWIN at 0x10 and the EOI register at 0x40; the register window repeats
 * every 0x100 bytes, as QEMU decodes only the low byte of the offset.
 *
 * <p>Registers behind IOWIN: ID (0, bits 24-27 writable), VER (1, reads 0x00170020), ARB (2, reads as ID), and
 * the redirection table at 0x10-0x3f, each pin's 64-bit entry as a low and a high 32-bit register. Delivery
 * status and remote IRR are read-only; writing an entry as edge triggered clears its remote IRR (Linux relies on
 * this to EOI a pin by hand). Accesses to IOWIN or the EOI register of a size other than 4 are ignored and read
 * 0, as QEMU; IOREGSEL takes the low byte of any write and reads back at any size.
 *
 * <p>Each entry is an MSI message in disguise, as QEMU's {@code ioapic_entry_parse}: address {@code 0xfee00000 |
 * bits 48-63 << 4 | destination mode << 2} (so the destination in bits 56-63 lands in address bits 12-19) and data
 * {@code vector | delivery mode << 8 | level-trigger << 15}, plus the MSI "assert" bit 14 for level-triggered
 * entries (QEMU leaves it 0; KVM ignores it for IOAPIC-style messages, so the two are equivalent). For the ExtINT
 * delivery mode QEMU substitutes a vector acknowledged from the PIC; this model passes the entry's vector field
 * and leaves ExtINT to the receiver.
 *
 * <p>As in QEMU, input 0 of {@link #setIrq} is routed to pin 2 (ISA IRQ 0, the PIT, is GSI 2 on a PC), so
 * pin 0 cannot be raised.
 *
 * <p>Lifetime: one per VM. Threading: all methods are thread-safe (this object's monitor), and {@link Output}
 * is always called after the monitor is released, one call at a time and in the order the changes were made (a
 * second lock serialises them, so {@code route} calls for one pin are never reordered). The call is made on one
 * of the threads that made changes: when two threads race, the one already calling the Output also sends the
 * other's, and the other returns once they are sent. An Output must therefore not block waiting for another
 * vCPU thread.
 */
public final class Ioapic implements BusDevice {
    /** Where the VMM maps it. */
    public static final long BASE = 0xfec0_0000L;
    /** Number of input pins. */
    public static final int PINS = 24;
    private static final int VERSION = 0x20;
    /**
     * Deliveries gathered between two flushes: one call delivers each pin at most once, so this only fills when
     * many threads race; past it, deliveries are dropped (an edge lost, as a saturated APIC bus would).
     */
    private static final int QUEUE = 4 * PINS;

    private static final int IOREGSEL = 0x00, IOWIN = 0x10, EOI = 0x40;
    private static final int REG_ID = 0, REG_VER = 1, REG_ARB = 2, REG_REDTBL = 0x10;

    private static final long VECTOR_MASK = 0xff;
    private static final int DELIVERY_MODE_SHIFT = 8;
    private static final int DEST_MODE_SHIFT = 11;
    private static final long DELIVERY_STATUS = 1L << 12;
    private static final long REMOTE_IRR = 1L << 14;
    private static final int TRIGGER_SHIFT = 15;
    private static final long TRIGGER_LEVEL = 1L << TRIGGER_SHIFT;
    private static final long MASKED = 1L << 16;
    private static final int DEST_IDX_SHIFT = 48;
    private static final long RO_BITS = REMOTE_IRR | DELIVERY_STATUS;

    /**
     * Where the IOAPIC's interrupts go: in the VMM, KVM's GSI routing table (one MSI route per pin) and
     * {@code KVM_SIGNAL_MSI}. Called outside the IOAPIC's monitor, one call at a time.
     */
    public interface Output {
        /**
         * Pin {@code pin}'s redirection entry now stands for this MSI message ({@code masked}: the entry's mask
         * bit). Called for every pin at construction and whenever the guest writes the pin's entry.
         */
        void route(int pin, long msiAddress, int msiData, boolean masked);

        /** Delivers one interrupt: the MSI message of an unmasked pin that fired. */
        void deliver(long msiAddress, int msiData);
    }

    private final Output out;
    /** Serialises calls to {@link #out} and keeps them in the order their changes were made. */
    private final Object outputLock = new Object();

    private final long[] table = new long[PINS];
    /** Pins whose input is asserted (level) or whose edge awaits delivery. */
    private int irr;
    /**
     * Each input's last level. QEMU delivers an edge-triggered pin on every call with level 1; the chip (and
     * this model) only on a low-to-high transition, so a device that re-asserts an already high line (as the
     * PIT does when reprogrammed) does not inject an extra interrupt.
     */
    private int inputs;
    private int id;
    /** The ID register after reset: 0 for the first IOAPIC, as QEMU's, and its MADT entry's for a second. */
    private final int resetId;
    private int ioregsel;

    /** QEMU's SUCCESSIVE_IRQ_MAX_COUNT: back-to-back EOI re-deliveries of one pin before backing off. */
    private static final int STORM_EOIS = 10_000;
    private static final long STORM_DELAY_MS = 10;
    /** Per pin, EOIs in a row that found the line still asserted. Guarded by {@code this}. */
    private final int[] eoiStreak = new int[PINS];
    private boolean delayedServicePending;
    /** Runs a task about {@link #STORM_DELAY_MS} later, on some other thread. */
    private final Consumer<Runnable> later;

    /** Work gathered under the monitor for the Output, run once it is released. Guarded by {@code this}. */
    private int routePending;
    private final long[] deliverAddr = new long[QUEUE];
    private final int[] deliverData = new int[QUEUE];
    private int deliverCount;

    /** Copies of the gathered work, owned by whoever holds {@link #outputLock}: nothing allocated per interrupt. */
    private final long[] sendAddr = new long[QUEUE];
    private final int[] sendData = new int[QUEUE];
    private final long[] sendEntries = new long[PINS];

    /** An IOAPIC in reset state (ID 0, every entry masked); calls {@code out.route} once for every pin. */
    public Ioapic(Output out) {
        this(out, 0);
    }

    /** As {@link #Ioapic(Output)}, with ID register {@code id} after reset (the MADT's id of this IOAPIC). */
    public Ioapic(Output out, int id) {
        this(out, id, task -> CompletableFuture
                .delayedExecutor(STORM_DELAY_MS, TimeUnit.MILLISECONDS).execute(task));
    }

    /** As the public constructor; {@code later} runs the storm back-off's deferred re-delivery (tests run it by hand). */
    Ioapic(Output out, Consumer<Runnable> later) {
        this(out, 0, later);
    }

    private Ioapic(Output out, int id, Consumer<Runnable> later) {
        this.out = out;
        this.later = later;
        this.resetId = id;
        this.id = id;
        synchronized (this) {
            for (int i = 0; i < PINS; i++) {
                table[i] = MASKED;
            }
            routePending = (1 << PINS) - 1;
        }
        flush();
    }

    /**
     * A system reset, as QEMU's {@code ioapic_reset_common}: ID 0, IOREGSEL 0, no pending requests, every entry
     * masked (remote IRR cleared); {@code out.route} is called again for every pin. Input levels are kept.
     */
    public void reset() {
        synchronized (this) {
            id = resetId;
            ioregsel = 0;
            irr = 0;
            java.util.Arrays.fill(eoiStreak, 0);
            for (int i = 0; i < PINS; i++) {
                table[i] = MASKED;
            }
            routePending = (1 << PINS) - 1;
            deliverCount = 0;
        }
        flush();
    }

    /**
     * Drives input {@code pin} (0-23; 0 means pin 2, as in QEMU) to {@code level}. An edge-triggered pin
     * delivers on each rising edge while unmasked (a masked pin ignores the edge, per the 82093AA manual; unlike
     * QEMU, a repeated high without a low in between is not an edge); a
     * level-triggered pin delivers when asserted with remote IRR clear, then sets remote IRR until the EOI.
     * Other pins are ignored. Thread-safe; may call {@link Output#deliver} before returning.
     */
    public void setIrq(int pin, boolean level) {
        synchronized (this) {
            if (pin == 0) {
                pin = 2;
            }
            if (pin < 0 || pin >= PINS) {
                return;
            }
            int mask = 1 << pin;
            long entry = table[pin];
            boolean rising = level && (inputs & mask) == 0;
            inputs = level ? inputs | mask : inputs & ~mask;
            if ((entry & TRIGGER_LEVEL) != 0) {
                if (level) {
                    irr |= mask;
                    if ((entry & REMOTE_IRR) == 0) {
                        service();
                    }
                } else {
                    irr &= ~mask;
                }
            } else if (rising && (entry & MASKED) == 0) {
                irr |= mask;
                service();
            }
        }
        flush();
    }

    /**
     * The local APICs' EOI of {@code vector}: every level-triggered pin with that vector and remote IRR set gets
     * remote IRR cleared and, if its input is still asserted and unmasked, delivers again (QEMU's
     * {@code ioapic_eoi_broadcast}, including its storm protection: after 10000 back-to-back re-deliveries of a
     * pin the next one is deferred by 10 ms, on a JDK timer thread).
     * Thread-safe; may call {@link Output#deliver} before returning.
     */
    public void eoi(int vector) {
        synchronized (this) {
            eoiLocked(vector);
        }
        flush();
    }

    /**
     * A guest MMIO read: IOREGSEL at any size, IOWIN (the selected register) only at size 4; anything else
     * reads 0. Thread-safe.
     */
    @Override
    public long read(long offset, int size) {
        synchronized (this) {
            int addr = (int) offset & 0xff;
            if (addr == IOREGSEL) {
                return ioregsel;
            }
            if (addr != IOWIN || size != 4) {
                return 0;
            }
            return switch (ioregsel) {
                case REG_ID, REG_ARB -> (long) id << 24;
                case REG_VER -> VERSION | (PINS - 1) << 16;
                default -> {
                    int index = (ioregsel - REG_REDTBL) >> 1;
                    if (index < 0 || index >= PINS) {
                        yield 0;
                    }
                    yield (ioregsel & 1) != 0 ? table[index] >>> 32 : table[index] & 0xffff_ffffL;
                }
            };
        }
    }

    /**
     * A guest MMIO write: IOREGSEL (low byte kept), IOWIN (the selected register) and the EOI register, the
     * latter two only at size 4; anything else is ignored. Thread-safe; may call {@link Output} before returning.
     */
    @Override
    public void write(long offset, int size, long value) {
        synchronized (this) {
            int addr = (int) offset & 0xff;
            if (addr == IOREGSEL) {
                ioregsel = (int) value & 0xff;
            } else if (addr == IOWIN && size == 4) {
                writeRegister(value & 0xffff_ffffL);
            } else if (addr == EOI && size == 4) {
                eoiLocked((int) value);
            }
        }
        flush();
    }

    // ---- internals; called with the monitor held unless noted ----

    private void writeRegister(long val) {
        switch (ioregsel) {
            case REG_ID -> id = (int) (val >> 24) & 0xf;
            case REG_VER, REG_ARB -> { } // read-only
            default -> {
                int index = (ioregsel - REG_REDTBL) >> 1;
                if (index < 0 || index >= PINS) {
                    return;
                }
                long old = table[index];
                long e = (ioregsel & 1) != 0
                        ? (old & 0xffff_ffffL) | val << 32
                        : (old & ~0xffff_ffffL) | val;
                e = (e & ~RO_BITS) | (old & RO_BITS);
                if ((e & TRIGGER_LEVEL) == 0) {
                    // An edge-triggered entry has no remote IRR: Linux toggles level->edge->level to clear it.
                    e &= ~REMOTE_IRR;
                }
                table[index] = e;
                eoiStreak[index] = 0;
                routePending |= 1 << index;
                // Unmasking (or retriggering) may release a pending level request at once, as QEMU.
                service();
            }
        }
    }

    private void eoiLocked(int vector) {
        for (int n = 0; n < PINS; n++) {
            long entry = table[n];
            if ((entry & VECTOR_MASK) != vector || (entry & TRIGGER_LEVEL) == 0 || (entry & REMOTE_IRR) == 0) {
                continue;
            }
            table[n] = entry & ~REMOTE_IRR;
            if ((entry & MASKED) == 0 && (irr & (1 << n)) != 0) {
                if (++eoiStreak[n] >= STORM_EOIS) {
                    // A guest that EOIs a level interrupt without quieting its source would loop here for
                    // ever. Real hardware re-delivers only after a bus delay; like QEMU, let it make slow
                    // progress by re-delivering after 10 ms, off this thread.
                    eoiStreak[n] = 0;
                    if (!delayedServicePending) {
                        delayedServicePending = true;
                        later.accept(this::delayedService);
                    }
                } else {
                    service();
                }
            } else {
                eoiStreak[n] = 0;
            }
        }
    }

    /** The storm back-off's deferred re-delivery (QEMU's {@code delayed_ioapic_service_cb}). */
    private void delayedService() {
        synchronized (this) {
            delayedServicePending = false;
            service();
        }
        flush();
    }

    /** QEMU's {@code ioapic_service}: deliver every requested, unmasked pin not awaiting an EOI. */
    private void service() {
        for (int i = 0; i < PINS; i++) {
            int mask = 1 << i;
            if ((irr & mask) == 0) {
                continue;
            }
            long entry = table[i];
            if ((entry & MASKED) != 0) {
                continue;
            }
            if ((entry & TRIGGER_LEVEL) == 0) {
                irr &= ~mask; // an edge is consumed by its delivery
            } else {
                if ((entry & REMOTE_IRR) != 0) {
                    continue; // the guest is still handling the previous one
                }
                table[i] = entry | REMOTE_IRR;
            }
            if (deliverCount < QUEUE) {
                deliverAddr[deliverCount] = msiAddress(entry);
                deliverData[deliverCount] = msiData(entry);
                deliverCount++;
            }
        }
    }

    /** The MSI address a redirection entry stands for. */
    static long msiAddress(long entry) {
        long destIdx = (entry >>> DEST_IDX_SHIFT) & 0xffff;
        long destMode = (entry >>> DEST_MODE_SHIFT) & 1;
        return 0xfee0_0000L | destIdx << 4 | destMode << 2;
    }

    /** The MSI data a redirection entry stands for. */
    static int msiData(long entry) {
        int vector = (int) (entry & VECTOR_MASK);
        int deliveryMode = (int) (entry >>> DELIVERY_MODE_SHIFT) & 7;
        int level = (int) (entry >>> TRIGGER_SHIFT) & 1;
        return vector | deliveryMode << 8 | level << 14 | level << 15;
    }

    /**
     * Runs the Output calls gathered under the monitor, after it is released. Called without the monitor; the
     * output lock keeps concurrent flushes in order, and the work is taken under the monitor inside it so that
     * a later change is never sent before an earlier one.
     */
    private void flush() {
        synchronized (outputLock) {
            while (true) {
                int routes;
                int n;
                synchronized (this) {
                    routes = routePending;
                    n = deliverCount;
                    if (routes == 0 && n == 0) {
                        return;
                    }
                    routePending = 0;
                    deliverCount = 0;
                    System.arraycopy(table, 0, sendEntries, 0, PINS);
                    System.arraycopy(deliverAddr, 0, sendAddr, 0, n);
                    System.arraycopy(deliverData, 0, sendData, 0, n);
                }
                for (int i = 0; i < PINS; i++) {
                    if ((routes & (1 << i)) != 0) {
                        long e = sendEntries[i];
                        out.route(i, msiAddress(e), msiData(e), (e & MASKED) != 0);
                    }
                }
                for (int i = 0; i < n; i++) {
                    out.deliver(sendAddr[i], sendData[i]);
                }
            }
        }
    }
}
