package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The IOAPIC programmed as Linux's io_apic.c does (high word, then low word; masked, then unmasked). MSI
 * address/data and register values are those QEMU's {@code hw/intc/ioapic.c} produces, except where noted.
 */
class IoapicTest {
    record Route(int pin, long address, int data, boolean masked) { }

    record Msi(long address, int data) { }

    private final List<Route> routes = new ArrayList<>();
    private final List<Msi> delivered = new ArrayList<>();
    private Ioapic ioapic;

    private Ioapic newIoapic() {
        ioapic = new Ioapic(new Ioapic.Output() {
            @Override
            public void route(int pin, long msiAddress, int msiData, boolean masked) {
                if (ioapic != null) {
                    assertFalse(Thread.holdsLock(ioapic));
                }
                routes.add(new Route(pin, msiAddress, msiData, masked));
            }

            @Override
            public void deliver(long msiAddress, int msiData) {
                assertFalse(Thread.holdsLock(ioapic));
                delivered.add(new Msi(msiAddress, msiData));
            }
        });
        return ioapic;
    }

    private void writeReg(int reg, long v) {
        ioapic.write(0x00, 4, reg);
        ioapic.write(0x10, 4, v);
    }

    private long readReg(int reg) {
        ioapic.write(0x00, 4, reg);
        return ioapic.read(0x10, 4);
    }

    /** Linux ioapic_write_entry: the high word (destination) first, then the low word. */
    private void writeEntry(int pin, long entry) {
        writeReg(0x11 + 2 * pin, entry >>> 32);
        writeReg(0x10 + 2 * pin, entry & 0xffff_ffffL);
    }

    private long readEntry(int pin) {
        return readReg(0x10 + 2 * pin) | readReg(0x11 + 2 * pin) << 32;
    }

    private static final long MASKED = 1L << 16, LEVEL = 1L << 15, REMOTE_IRR = 1L << 14, LOGICAL = 1L << 11;

    @Test
    void resetRoutesEveryPinMasked() {
        newIoapic();
        assertEquals(24, routes.size());
        for (int i = 0; i < 24; i++) {
            assertEquals(new Route(i, 0xfee0_0000L, 0, true), routes.get(i));
            assertEquals(MASKED, readEntry(i));
        }
        assertTrue(delivered.isEmpty());
    }

    @Test
    void idVersionArbitration() {
        newIoapic();
        assertEquals(0x0017_0020L, readReg(1)); // version 0x20, 24 entries
        assertEquals(0, readReg(0));
        writeReg(0, 0x0f00_0000L | 0xff);
        assertEquals(0x0f00_0000L, readReg(0)); // only bits 24-27 stick
        assertEquals(0x0f00_0000L, readReg(2)); // ARB reads as the ID, as QEMU
        writeReg(1, 0);
        writeReg(2, 0);
        assertEquals(0x0017_0020L, readReg(1));
        ioapic.write(0x00, 4, 0x13);
        assertEquals(0x13, ioapic.read(0x00, 4)); // IOREGSEL reads back
    }

    @Test
    void linuxProgramsAnEdgePinAndItDeliversOncePerRisingEdge() {
        newIoapic();
        routes.clear();
        // IRQ 4 (serial): vector 0x24, fixed, physical destination APIC 1, edge, active high; masked first.
        long entry = 1L << 56 | 0x24;
        writeEntry(4, entry | MASKED);
        ioapic.setIrq(4, true);
        ioapic.setIrq(4, false);
        assertTrue(delivered.isEmpty()); // masked: the edge is dropped
        writeEntry(4, entry);
        assertTrue(delivered.isEmpty()); // and not remembered
        assertEquals(new Route(4, 0xfee0_1000L, 0x24, false), routes.get(routes.size() - 1));
        assertEquals(entry, readEntry(4));

        ioapic.setIrq(4, true);
        assertEquals(List.of(new Msi(0xfee0_1000L, 0x24)), delivered);
        ioapic.setIrq(4, true); // still high: no new edge (QEMU would deliver again)
        assertEquals(1, delivered.size());
        ioapic.setIrq(4, false);
        ioapic.setIrq(4, true);
        assertEquals(2, delivered.size());
        assertEquals(0, readEntry(4) & REMOTE_IRR); // edge pins never set remote IRR
    }

    @Test
    void routeEncodesDestinationModeAndDeliveryMode() {
        newIoapic();
        routes.clear();
        // Logical destination 0xff, lowest priority (1), level, vector 0x41.
        writeEntry(9, 0xffL << 56 | LEVEL | LOGICAL | 1 << 8 | 0x41);
        Route r = routes.get(routes.size() - 1);
        assertEquals(0xfeef_f004L, r.address());
        // vector | delivery mode << 8 | trigger << 15, plus the assert bit 14 for level (QEMU leaves bit 14 0).
        assertEquals(0x41 | 1 << 8 | 1 << 14 | 1 << 15, r.data());
        assertFalse(r.masked());
        // Every write of either half re-routes the pin.
        int n = routes.size();
        writeReg(0x10 + 18, 0x41 | MASKED);
        assertEquals(n + 1, routes.size());
        assertTrue(routes.get(n).masked());
        assertEquals(0xfeef_f000L, routes.get(n).address()); // the low word rewrote the logical bit away
    }

    @Test
    void levelPinRemoteIrrAndEoiRedelivery() {
        newIoapic();
        long entry = LEVEL | 0x29; // ACPI SCI style: level, vector 0x29, destination 0
        writeEntry(9, entry);
        Msi msi = new Msi(0xfee0_0000L, 0x29 | 1 << 14 | 1 << 15);

        ioapic.setIrq(9, true);
        assertEquals(List.of(msi), delivered);
        assertEquals(REMOTE_IRR, readEntry(9) & REMOTE_IRR);
        ioapic.setIrq(9, true); // still asserted, remote IRR set: nothing
        assertEquals(1, delivered.size());

        ioapic.eoi(0x29); // the guest's EOI while the line is still asserted: again
        assertEquals(2, delivered.size());
        assertEquals(REMOTE_IRR, readEntry(9) & REMOTE_IRR);

        ioapic.setIrq(9, false);
        ioapic.eoi(0x29);
        assertEquals(2, delivered.size());
        assertEquals(0, readEntry(9) & REMOTE_IRR);

        ioapic.eoi(0x30); // another vector: no effect
        ioapic.setIrq(9, true);
        assertEquals(3, delivered.size());
        ioapic.write(0x40, 4, 0x29); // the version-0x20 EOI register does the same as eoi()
        assertEquals(4, delivered.size());
        ioapic.write(0x40, 2, 0x29); // but only as a 32-bit write
        assertEquals(4, delivered.size());
        assertEquals(REMOTE_IRR, readEntry(9) & REMOTE_IRR);
    }

    @Test
    void eoiIgnoresEdgePinsWithTheSameVector() {
        newIoapic();
        writeEntry(3, 0x33);
        writeEntry(5, LEVEL | 0x33);
        ioapic.setIrq(5, true);
        ioapic.setIrq(3, true);
        assertEquals(2, delivered.size());
        ioapic.eoi(0x33);
        assertEquals(3, delivered.size()); // only the level pin comes back
    }

    @Test
    void maskedLevelPinDeliversWhenUnmasked() {
        newIoapic();
        writeEntry(10, LEVEL | MASKED | 0x3a);
        ioapic.setIrq(10, true);
        assertTrue(delivered.isEmpty());
        assertEquals(0, readEntry(10) & REMOTE_IRR);
        writeEntry(10, LEVEL | 0x3a); // unmasking a still-asserted level pin delivers at once, as QEMU
        assertEquals(1, delivered.size());
        ioapic.setIrq(10, false);
        writeEntry(10, LEVEL | MASKED | 0x3a);
        ioapic.eoi(0x3a);
        writeEntry(10, LEVEL | 0x3a);
        assertEquals(1, delivered.size()); // deasserted meanwhile: nothing
    }

    @Test
    void readOnlyBitsAndLinuxRemoteIrrClearingTrick() {
        newIoapic();
        writeEntry(7, LEVEL | 0x27);
        ioapic.setIrq(7, true);
        assertEquals(REMOTE_IRR, readEntry(7) & REMOTE_IRR);
        // Guest writes cannot set or clear remote IRR or delivery status directly...
        writeEntry(7, LEVEL | 0x27 | 1L << 12);
        assertEquals(LEVEL | REMOTE_IRR | 0x27, readEntry(7));
        // ...but Linux's __eoi_ioapic_pin (masked, edge, then level) clears it.
        ioapic.setIrq(7, false);
        writeEntry(7, MASKED | 0x27);
        assertEquals(0, readEntry(7) & REMOTE_IRR);
        writeEntry(7, LEVEL | 0x27);
        assertEquals(1, delivered.size());
        ioapic.setIrq(7, true);
        assertEquals(2, delivered.size());
    }

    @Test
    void input0IsPin2AsInQemu() {
        newIoapic();
        writeEntry(2, 0x30);
        writeEntry(0, 0x99);
        ioapic.setIrq(0, true);
        assertEquals(List.of(new Msi(0xfee0_0000L, 0x30)), delivered);
    }

    @Test
    void badAccessesAreIgnored() {
        newIoapic();
        writeEntry(1, 0x31);
        assertDoesNotThrow(() -> {
            ioapic.setIrq(-1, true);
            ioapic.setIrq(24, true);
            ioapic.eoi(-5);
            ioapic.eoi(0x1234);
            ioapic.write(0x10, 1, 0x55); // IOWIN must be 32-bit: ignored
            ioapic.write(0x20, 4, 0x55);
            ioapic.write(0xff, 8, -1);
        });
        assertTrue(delivered.isEmpty());
        ioapic.write(0x00, 4, 0x12);
        assertEquals(0, ioapic.read(0x10, 1)); // a byte read of IOWIN reads 0
        assertEquals(0x31, ioapic.read(0x10, 4)); // the entry was untouched
        assertEquals(0, ioapic.read(0x20, 4));
        for (int reg : new int[] {0x03, 0x0f, 0x40, 0xff}) {
            assertEquals(0, readReg(reg), "reg " + reg);
            writeReg(reg, 0xffff_ffffL);
        }
        ioapic.write(0x00, 4, 0x1ff); // IOREGSEL keeps its low byte
        assertEquals(0xff, ioapic.read(0x00, 4));
        ioapic.write(0x100, 4, 0x01); // the window repeats every 0x100 bytes
        assertEquals(0x0017_0020L, ioapic.read(0x110, 4));
        assertEquals(0x0017_0020L, readReg(1));
        assertEquals(0x31, readEntry(1));
    }

    @Test
    void concurrentEdgesAreAllDeliveredOneOutputCallAtATime() throws Exception {
        int threads = 4, pulses = 20_000;
        java.util.concurrent.atomic.AtomicInteger inside = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger overlaps = new java.util.concurrent.atomic.AtomicInteger();
        int[] perVector = new int[256];
        Ioapic chip = new Ioapic(new Ioapic.Output() {
            @Override
            public void route(int pin, long msiAddress, int msiData, boolean masked) { }

            @Override
            public void deliver(long msiAddress, int msiData) {
                if (inside.incrementAndGet() != 1) {
                    overlaps.incrementAndGet();
                }
                perVector[msiData & 0xff]++; // safe only because Output calls never overlap
                inside.decrementAndGet();
            }
        });
        for (int t = 0; t < threads; t++) {
            chip.write(0, 4, 0x10 + 2 * (t + 1));
            chip.write(0x10, 4, 0x40 + t);
        }
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int pin = t + 1;
            workers[t] = new Thread(() -> {
                for (int i = 0; i < pulses; i++) {
                    chip.setIrq(pin, true);
                    chip.setIrq(pin, false);
                }
            });
            workers[t].start();
        }
        for (Thread w : workers) {
            w.join();
        }
        assertEquals(0, overlaps.get());
        for (int t = 0; t < threads; t++) {
            assertEquals(pulses, perVector[0x40 + t], "pin " + (t + 1));
        }
    }

    /** QEMU's ioapic_eoi_broadcast: the 10000th back-to-back re-delivery is deferred (10 ms in the VMM). */
    @Test
    void interruptStormBacksOff() {
        List<Runnable> deferred = new ArrayList<>();
        ioapic = new Ioapic(new Ioapic.Output() {
            @Override
            public void route(int pin, long msiAddress, int msiData, boolean masked) { }

            @Override
            public void deliver(long msiAddress, int msiData) {
                delivered.add(new Msi(msiAddress, msiData));
            }
        }, deferred::add);
        writeEntry(11, LEVEL | 0x3b);
        ioapic.setIrq(11, true); // a device that never lets go
        for (int i = 1; i < 10_000; i++) {
            ioapic.eoi(0x3b);
        }
        assertEquals(10_000, delivered.size());
        assertTrue(deferred.isEmpty());
        ioapic.eoi(0x3b);
        assertEquals(10_000, delivered.size()); // held back
        assertEquals(1, deferred.size());
        assertEquals(0, readEntry(11) & REMOTE_IRR);
        deferred.get(0).run(); // the timer fires
        assertEquals(10_001, delivered.size());
        ioapic.eoi(0x3b);
        assertEquals(10_002, delivered.size()); // the streak starts over
    }

    @Test
    void resetMasksEveryPinAndRoutesThemAgain() {
        newIoapic();
        writeEntry(4, 0x8044);
        ioapic.setIrq(4, true);
        assertEquals(1, delivered.size());
        writeReg(0, 5L << 24);
        routes.clear();
        ioapic.reset();
        assertEquals(24, routes.size(), "every pin routed again");
        assertTrue(routes.stream().allMatch(r -> r.masked()));
        assertEquals(MASKED, readEntry(4), "entry masked, remote IRR clear");
        assertEquals(0, readReg(0), "ID 0");
        ioapic.eoi(0x44);
        assertEquals(1, delivered.size(), "no re-delivery to a masked pin");
    }
}
