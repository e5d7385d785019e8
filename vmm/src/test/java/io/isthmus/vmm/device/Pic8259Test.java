package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The 8259A pair programmed as Linux's {@code init_8259A} and a PC BIOS do; expected values are what QEMU's
 * {@code hw/intc/i8259.c} produces for the same port sequence.
 */
class Pic8259Test {
    private final AtomicInteger kicks = new AtomicInteger();
    private Pic8259 pic;

    private Pic8259 newPic() {
        pic = new Pic8259(() -> {
            // The contract: run outside the PIC's lock.
            assertFalse(Thread.holdsLock(pic));
            kicks.incrementAndGet();
        });
        return pic;
    }

    private void m(int port, int v) {
        pic.master().write(port, 1, v);
    }

    private void s(int port, int v) {
        pic.slave().write(port, 1, v);
    }

    private int mr(int port) {
        return (int) pic.master().read(port, 1);
    }

    private int sr(int port) {
        return (int) pic.slave().read(port, 1);
    }

    /** arch/x86/kernel/i8259.c init_8259A(0): vectors 0x30/0x38, cascade on IRQ 2, 8086 mode, normal EOI. */
    private void linuxInit(boolean autoEoi) {
        m(1, 0xff);
        s(1, 0xff);
        m(0, 0x11);
        m(1, 0x30);
        m(1, 0x04);
        m(1, autoEoi ? 0x03 : 0x01);
        s(0, 0x11);
        s(1, 0x38);
        s(1, 0x02);
        s(1, 0x01);
        m(1, 0x00);
        s(1, 0x00);
    }

    /** SeaBIOS-style: vectors 0x08/0x70, everything unmasked. */
    private void biosInit() {
        m(0, 0x11);
        m(1, 0x08);
        m(1, 0x04);
        m(1, 0x01);
        s(0, 0x11);
        s(1, 0x70);
        s(1, 0x02);
        s(1, 0x01);
    }

    private int masterIsr() {
        m(0, 0x0b);
        int v = mr(0);
        m(0, 0x0a);
        return v;
    }

    private int slaveIsr() {
        s(0, 0x0b);
        int v = sr(0);
        s(0, 0x0a);
        return v;
    }

    private void pulse(int irq) {
        pic.setIrq(irq, true);
        pic.setIrq(irq, false);
    }

    @Test
    void resetStateIsUnmaskedAndAcknowledgesSpuriousIrq7() {
        newPic();
        assertEquals(0, mr(1));
        assertEquals(0, sr(1));
        assertFalse(pic.hasInterrupt());
        assertEquals(7, pic.acknowledge()); // vector base 0 after reset, spurious IRQ 7
        assertEquals(0, masterIsr());
    }

    @Test
    void linuxInitThenIrqAcknowledgeAndSpecificEoi() {
        newPic();
        linuxInit(false);
        pulse(1);
        assertTrue(pic.hasInterrupt());
        assertEquals(1, kicks.get());
        assertEquals(0x02, mr(0)); // IRR
        assertEquals(0x31, pic.acknowledge());
        assertFalse(pic.hasInterrupt());
        assertEquals(0x02, masterIsr());
        assertEquals(0x00, mr(0)); // edge request cleared from IRR
        m(0, 0x61); // Linux: specific EOI for IRQ 1
        assertEquals(0, masterIsr());
        assertFalse(pic.hasInterrupt());
    }

    @Test
    void kickOnlyOnRisingIntr() {
        newPic();
        linuxInit(false);
        pulse(3);
        pulse(4); // INTR already high: no second kick
        assertEquals(1, kicks.get());
        assertEquals(0x33, pic.acknowledge());
        m(0, 0x63);
        // IRQ 4 still pending: INTR rises again after the EOI, and that write kicks.
        assertTrue(pic.hasInterrupt());
        assertEquals(2, kicks.get());
        assertEquals(0x34, pic.acknowledge());
    }

    @Test
    void priorityAndNesting() {
        newPic();
        linuxInit(false);
        pulse(4);
        pulse(1);
        assertEquals(0x31, pic.acknowledge()); // lower number wins
        assertFalse(pic.hasInterrupt()); // IRQ 4 waits while IRQ 1 is in service
        pulse(0);
        assertTrue(pic.hasInterrupt()); // IRQ 0 outranks the one in service
        assertEquals(0x30, pic.acknowledge());
        assertEquals(0x03, masterIsr());
        m(0, 0x20); // non-specific EOI retires the highest in service: IRQ 0
        assertEquals(0x02, masterIsr());
        assertFalse(pic.hasInterrupt());
        m(0, 0x20);
        assertTrue(pic.hasInterrupt());
        assertEquals(0x34, pic.acknowledge());
    }

    @Test
    void maskedIrqWaitsForUnmask() {
        newPic();
        linuxInit(false);
        m(1, 0x08);
        pulse(3);
        assertFalse(pic.hasInterrupt());
        assertEquals(0x08, mr(0)); // latched in IRR all the same
        assertEquals(0, kicks.get());
        m(1, 0x00);
        assertTrue(pic.hasInterrupt());
        assertEquals(1, kicks.get());
        assertEquals(0x33, pic.acknowledge());
    }

    @Test
    void cascadeThroughSlave() {
        newPic();
        linuxInit(false);
        pulse(12);
        assertTrue(pic.hasInterrupt());
        assertEquals(0x04, mr(0)); // the cascade input is requesting on the master
        assertEquals(0x10, sr(0));
        assertEquals(0x3c, pic.acknowledge());
        assertEquals(0x04, masterIsr());
        assertEquals(0x10, slaveIsr());
        // While the slave is in service, another slave IRQ (even higher) waits: IRQ 2 is in service on the master.
        pulse(8);
        assertFalse(pic.hasInterrupt());
        // Linux's EOI of a slave IRQ: specific EOI on the slave, then on the master's cascade.
        s(0, 0x64);
        m(0, 0x62);
        assertTrue(pic.hasInterrupt());
        assertEquals(0x38, pic.acknowledge());
    }

    @Test
    void biosVectorsAndNonSpecificEoi() {
        newPic();
        biosInit();
        pulse(0);
        assertEquals(0x08, pic.acknowledge());
        m(0, 0x20);
        pulse(14);
        assertEquals(0x76, pic.acknowledge());
        s(0, 0x20);
        m(0, 0x20);
        assertEquals(0, masterIsr());
        assertEquals(0, slaveIsr());
    }

    @Test
    void slaveWithdrawnGivesSpuriousIrq15() {
        newPic();
        linuxInit(false);
        pulse(12);
        s(1, 0x10); // the slave masks it: master IRQ 2 stays latched (edge)
        assertTrue(pic.hasInterrupt());
        assertEquals(0x3f, pic.acknowledge());
        assertEquals(0x04, masterIsr());
        assertEquals(0, slaveIsr());
    }

    @Test
    void autoEoiLeavesNothingInService() {
        newPic();
        linuxInit(true);
        pulse(1);
        pulse(5);
        assertEquals(0x31, pic.acknowledge());
        assertEquals(0, masterIsr());
        assertTrue(pic.hasInterrupt()); // IRQ 5 is not held off: nothing is in service
        assertEquals(0x35, pic.acknowledge());
        assertFalse(pic.hasInterrupt());
    }

    @Test
    void rotateOnAutoEoiMakesServicedIrqLowest() {
        newPic();
        linuxInit(true);
        m(0, 0x80); // OCW2: set rotate in AEOI mode
        pulse(0);
        assertEquals(0x30, pic.acknowledge());
        pulse(0);
        pulse(5);
        assertEquals(0x35, pic.acknowledge()); // IRQ 0 is now the lowest priority
        assertEquals(0x30, pic.acknowledge());
        m(0, 0x00); // clear rotate in AEOI
        pulse(6);
        pulse(7);
        assertEquals(0x36, pic.acknowledge()); // priorities left rotated (IRQ 1 highest), no further rotation
        assertEquals(0x37, pic.acknowledge());
    }

    @Test
    void rotateOnNonSpecificEoiAndSetPriority() {
        newPic();
        linuxInit(false);
        pulse(2 + 1); // IRQ 3
        assertEquals(0x33, pic.acknowledge());
        m(0, 0xa0); // rotate on non-specific EOI: IRQ 3 becomes lowest, IRQ 4 highest
        pulse(3);
        pulse(4);
        assertEquals(0x34, pic.acknowledge());
        m(0, 0x64);
        assertEquals(0x33, pic.acknowledge());
        m(0, 0x63);
        m(0, 0xc0 | 5); // set priority: IRQ 5 lowest, IRQ 6 highest
        pulse(5);
        pulse(6);
        pulse(1);
        assertEquals(0x36, pic.acknowledge());
        m(0, 0xe6); // rotate on specific EOI of IRQ 6: IRQ 7 highest, IRQ 6 lowest
        assertEquals(0, masterIsr());
        assertEquals(0x31, pic.acknowledge());
    }

    @Test
    void pollCommandActsAsAcknowledge() {
        newPic();
        linuxInit(false);
        m(1, 0xff); // polled systems mask everything... which also hides it from poll
        pulse(5);
        m(0, 0x0c);
        assertEquals(0, mr(0)); // nothing unmasked
        m(1, 0x00);
        m(0, 0x0c);
        assertEquals(0x85, mr(0));
        assertEquals(0x20, masterIsr());
        assertEquals(0, mr(0)); // the next read is IRR again: the poll was one-shot
        assertEquals(0, mr(1));
    }

    @Test
    void readRegisterSelectPersists() {
        newPic();
        linuxInit(false);
        pulse(6);
        pic.acknowledge();
        pulse(7);
        m(0, 0x0b);
        assertEquals(0x40, mr(0));
        assertEquals(0x40, mr(0));
        m(0, 0x08); // OCW3 without RR: the selection stays
        assertEquals(0x40, mr(0));
        m(0, 0x0a);
        assertEquals(0x80, mr(0));
    }

    @Test
    void levelRequestWithdrawnGivesSpuriousIrq7() {
        newPic();
        linuxInit(false);
        pic.elcr().write(0, 1, 0x20); // IRQ 5 level triggered
        pic.setIrq(5, true);
        assertTrue(pic.hasInterrupt());
        pic.setIrq(5, false);
        assertFalse(pic.hasInterrupt());
        assertEquals(0x37, pic.acknowledge());
        assertEquals(0, masterIsr()); // spurious: nothing goes in service
    }

    @Test
    void levelTriggeredReassertsAfterEoiEdgeDoesNot() {
        newPic();
        linuxInit(false);
        pic.elcr().write(1, 1, 0x02); // IRQ 9 level triggered
        pic.setIrq(9, true);
        assertEquals(0x39, pic.acknowledge());
        assertEquals(0x02, sr(0)); // IRR still follows the line
        s(0, 0x61);
        m(0, 0x62);
        assertTrue(pic.hasInterrupt()); // still asserted: again
        assertEquals(0x39, pic.acknowledge());
        pic.setIrq(9, false); // the handler quiets the device before its EOI
        s(0, 0x61);
        m(0, 0x62);
        assertFalse(pic.hasInterrupt());
        assertEquals(0, sr(0));

        // Edge: held high, one request only.
        pic.setIrq(4, true);
        assertEquals(0x34, pic.acknowledge());
        m(0, 0x64);
        pic.setIrq(4, true);
        assertFalse(pic.hasInterrupt());
    }

    @Test
    void elcrKeepsOnlyTheLinesQemuAllows() {
        newPic();
        pic.elcr().write(0, 1, 0xff);
        pic.elcr().write(1, 1, 0xff);
        assertEquals(0xf8, pic.elcr().read(0, 1));
        assertEquals(0xde, pic.elcr().read(1, 1));
        pic.elcr().write(0, 2, 0x0c20);
        assertEquals(0x0c20, pic.elcr().read(0, 2));
        // IRQ 0 cannot be made level triggered: it stays an edge.
        linuxInit(false);
        pic.setIrq(0, true);
        assertEquals(0x30, pic.acknowledge());
        assertEquals(0, mr(0));
    }

    @Test
    void specialMaskModeLetsLowerPrioritiesThrough() {
        newPic();
        linuxInit(false);
        pulse(3);
        assertEquals(0x33, pic.acknowledge());
        pulse(5);
        assertFalse(pic.hasInterrupt());
        m(0, 0x68); // OCW3: set special mask mode
        m(1, 0x08); // mask the in-service IRQ 3
        assertTrue(pic.hasInterrupt());
        assertEquals(0x35, pic.acknowledge());
        m(0, 0x48); // reset special mask mode
        m(0, 0x65);
        pulse(6);
        assertFalse(pic.hasInterrupt()); // IRQ 3 in service holds IRQ 6 off again
    }

    @Test
    void specialFullyNestedModeLetsHigherSlaveIrqsThrough() {
        for (boolean sfnm : new boolean[] {false, true}) {
            newPic();
            m(0, 0x11);
            m(1, 0x30);
            m(1, 0x04);
            m(1, sfnm ? 0x11 : 0x01);
            s(0, 0x11);
            s(1, 0x38);
            s(1, 0x02);
            s(1, 0x01);
            pulse(12);
            assertEquals(0x3c, pic.acknowledge());
            pulse(10);
            assertEquals(sfnm, pic.hasInterrupt(), "sfnm=" + sfnm);
            if (sfnm) {
                assertEquals(0x3a, pic.acknowledge());
            }
        }
    }

    @Test
    void singleModeSkipsIcw3() {
        newPic();
        m(0, 0x13); // ICW1: single, ICW4 needed
        m(1, 0x40); // ICW2
        m(1, 0x01); // ICW4 (would be taken as ICW3 in cascade mode)
        m(1, 0xfe); // OCW1
        assertEquals(0xfe, mr(1));
        m(0, 0x12); // single, no ICW4: back to OCW1 right after ICW2
        m(1, 0x48);
        m(1, 0x0f);
        assertEquals(0x0f, mr(1));
        pulse(5);
        assertEquals(0x4d, pic.acknowledge());
    }

    @Test
    void icw1DropsLatchedEdgesButKeepsLevels() {
        newPic();
        linuxInit(false);
        m(1, 0xff);
        pic.elcr().write(0, 1, 0x40);
        pulse(3);
        pic.setIrq(6, true);
        assertEquals(0x48, mr(0));
        m(0, 0x11); // reinitialise: IMR, ISR and edge requests cleared
        assertEquals(0x40, mr(0));
        m(1, 0x30);
        m(1, 0x04);
        m(1, 0x01);
        assertEquals(0, mr(1));
        assertEquals(0x36, pic.acknowledge());
    }

    @Test
    void badInputNeverThrows() {
        newPic();
        assertDoesNotThrow(() -> {
            pic.setIrq(-1, true);
            pic.setIrq(16, true);
            pic.master().write(7, 1, 0x55);
            pic.slave().write(-3, 4, -1);
            pic.elcr().write(9, 1, 0xff);
            pic.master().read(5, 1);
            pic.elcr().read(2, 1);
        });
        assertFalse(pic.hasInterrupt());
        assertEquals(0xff, pic.master().read(2, 1));
        linuxInit(false);
        m(1, 0x5a);
        pulse(2 + 2); // IRQ 4, masked? 0x5a = 0101_1010: IRQ 4 masked
        assertEquals(0x5a10, pic.master().read(0, 2)); // a word read: IRR then IMR, byte by byte as QEMU
    }

    @Test
    void resetForgetsProgrammingAndPendingEdges() {
        newPic();
        linuxInit(false);
        pic.elcr().write(0, 1, 0x08);
        m(1, 0x04);
        pulse(1);
        assertTrue(pic.hasInterrupt());
        pic.reset();
        assertFalse(pic.hasInterrupt(), "INTR drops");
        assertEquals(0, mr(1), "IMR back to 0");
        assertEquals(0, pic.elcr().read(0, 1), "ELCR cleared");
        assertEquals(7, pic.acknowledge(), "vector base 0 again; the edge pending before reset is gone");
        biosInit();
        pulse(0);
        assertEquals(0x08, pic.acknowledge(), "reprogrammable after reset");
    }
}
