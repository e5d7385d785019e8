package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.bus.PioBus;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * COM1 through the port bus, register by register as QEMU's {@code hw/char/serial.c} answers: transmit, LSR, IIR
 * and IER with ISA IRQ 4 raised and lowered as a 16550A does, the divisor latch, receive, FIFO control, loopback,
 * reset and close.
 */
class Serial16550Test {
    private static final int THR = 0x3f8, IER = 0x3f9, IIR = 0x3fa, FCR = 0x3fa, LCR = 0x3fb, MCR = 0x3fc,
            LSR = 0x3fd, MSR = 0x3fe, SCR = 0x3ff;
    private final FakePlatform platform = new FakePlatform();
    private final PioBus bus = platform.pioBus();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Serial16550 uart = platform.plug(new Serial16550(out));
    private final FakePlatform.Line irq = platform.isaLine(4);

    private int in(int port) {
        return (int) bus.read(port, 1);
    }

    private void out(int port, int v) {
        bus.write(port, 1, v);
    }

    @Test
    void powerOnRegisters() {
        assertEquals(0x60, in(LSR), "THR empty, transmitter empty, no data");
        assertEquals(0x01, in(IIR), "no interrupt");
        assertEquals(0x00, in(IER));
        assertEquals(0x00, in(LCR));
        assertEquals(0x08, in(MCR), "OUT2, as QEMU's reset");
        assertEquals(0xb0, in(MSR), "DCD, DSR, CTS");
        assertFalse(irq.level());
        assertEquals(List.of(), irq.history(), "the line was never raised");
    }

    @Test
    void transmittedBytesReachTheBackendInOrder() {
        for (byte b : "hi\n".getBytes(StandardCharsets.US_ASCII)) {
            out(THR, b);
        }
        uart.flush(); // the UART hands bytes to its output thread: wait until the backend has them
        assertArrayEquals("hi\n".getBytes(StandardCharsets.US_ASCII), out.toByteArray());
        assertEquals(0x60, in(LSR), "always ready to transmit");
        assertFalse(irq.level(), "no interrupt while IER is 0");
    }

    @Test
    void thrEmptyInterruptIsRaisedByIerAndClearedByReadingIir() {
        out(IER, 0x02);
        assertTrue(irq.level(), "enabling THRI with an empty THR raises the line at once");
        assertEquals(0x02, in(IIR), "THR empty");
        assertFalse(irq.level(), "reading IIR while it reports THRE clears it");
        assertEquals(0x01, in(IIR));
        out(THR, 'x');
        assertTrue(irq.level(), "each transmitted byte raises it again");
        assertEquals(0x02, in(IIR));
        assertFalse(irq.level());
        out(IER, 0x00);
        out(THR, 'y');
        assertFalse(irq.level(), "masked");
        assertEquals(List.of(true, false, true, false), irq.history());
    }

    @Test
    void disablingThriLowersTheLine() {
        out(IER, 0x02);
        assertTrue(irq.level());
        out(IER, 0x00);
        assertFalse(irq.level());
        assertEquals(0x01, in(IIR));
    }

    @Test
    void receivedBytesRaiseDataReadyAndTheInterrupt() {
        assertTrue(uart.receive((byte) 'a'));
        assertTrue(uart.receive((byte) 'b'));
        assertEquals(0x61, in(LSR), "data ready");
        assertFalse(irq.level(), "RDI not enabled");
        out(IER, 0x01);
        assertTrue(irq.level());
        assertEquals(0x04, in(IIR), "received data available");
        assertTrue(irq.level(), "reading IIR does not clear RDI");
        assertEquals('a', in(THR));
        assertTrue(irq.level(), "one byte left");
        assertEquals('b', in(THR));
        assertFalse(irq.level(), "buffer empty: line drops");
        assertEquals(0x60, in(LSR));
        assertEquals(0, in(THR), "reading an empty RBR gives 0");
    }

    @Test
    void receiveHasPriorityOverThrEmpty() {
        out(IER, 0x03);
        uart.receive((byte) 'z');
        assertEquals(0x04, in(IIR));
        assertEquals('z', in(THR));
        assertTrue(irq.level(), "THRE still pending");
        assertEquals(0x02, in(IIR));
        assertFalse(irq.level());
    }

    @Test
    void divisorLatchSharesTheFirstTwoRegisters() {
        out(IER, 0x05);
        out(LCR, 0x83); // DLAB, 8N1
        assertEquals(0x0c, in(THR), "DLL after reset: 9600 baud");
        assertEquals(0x00, in(IER), "DLM");
        out(THR, 0x01); // 115200 baud
        out(IER, 0x00);
        uart.flush(); // the UART hands bytes to its output thread: wait until the backend has them
        assertEquals(0, out.size(), "a DLL write transmits nothing");
        assertEquals(0x01, in(THR));
        out(LCR, 0x03);
        assertEquals(0x05, in(IER), "IER kept under the latch");
        out(LCR, 0x83);
        assertEquals(0x01, in(THR), "the divisor kept too");
        assertEquals(0x83, in(LCR));
    }

    @Test
    void fifoControlShowsInIirAndClearsTheReceiver() {
        out(FCR, 0x01);
        assertEquals(0xc1, in(IIR), "FIFOs enabled, no interrupt");
        uart.receive((byte) 1);
        uart.receive((byte) 2);
        out(IER, 0x01);
        assertEquals(0xc4, in(IIR));
        out(FCR, 0x03); // clear the receive FIFO
        assertEquals(0x60, in(LSR));
        assertFalse(irq.level());
        assertEquals(0xc1, in(IIR));
        out(FCR, 0x00);
        assertEquals(0x01, in(IIR));
    }

    @Test
    void loopbackReceivesWhatIsSentAndMirrorsModemLines() {
        out(MCR, 0x10 | 0x0f);
        assertEquals(0xf0, in(MSR), "DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD");
        out(THR, 'q');
        uart.flush(); // the UART hands bytes to its output thread: wait until the backend has them
        assertEquals(0, out.size(), "loopback: nothing on the wire");
        assertEquals(0x61, in(LSR));
        assertEquals('q', in(THR));
        out(MCR, 0x10);
        assertEquals(0x00, in(MSR));
    }

    @Test
    void scratchRegisterKeepsItsValue() {
        out(SCR, 0xa5);
        assertEquals(0xa5, in(SCR));
    }

    @Test
    void resetRestoresPowerOnStateAndLowersTheLine() {
        out(LCR, 0x80);
        out(THR, 0x01);
        out(LCR, 0x1b);
        out(IER, 0x03);
        out(SCR, 0x77);
        out(MCR, 0x1f);
        uart.receive((byte) 9);
        assertTrue(irq.level());
        uart.reset();
        assertFalse(irq.level());
        assertEquals(0x60, in(LSR), "receiver emptied");
        assertEquals(0x01, in(IIR));
        assertEquals(0, in(IER));
        assertEquals(0, in(LCR));
        assertEquals(0x08, in(MCR));
        assertEquals(0, in(SCR));
        out(LCR, 0x80);
        assertEquals(0x0c, in(THR), "divisor back to 9600 baud");
        assertEquals(0, in(IER));
    }

    @Test
    void afterCloseOutputIsDroppedAndInputRefused() {
        out(THR, 'a');
        uart.close();
        out(THR, 'b');
        uart.flush(); // the UART hands bytes to its output thread: wait until the backend has them
        assertArrayEquals(new byte[] {'a'}, out.toByteArray());
        assertFalse(uart.receive((byte) 'c'));
        assertEquals(0x60, in(LSR), "registers still answer");
        uart.close();
    }

    @Test
    void aFullReceiverDropsBytesWithoutFault() {
        for (int i = 0; i < 5000; i++) {
            uart.receive((byte) i);
        }
        int n = 0;
        while ((in(LSR) & 1) != 0) {
            assertEquals(n & 0xff, in(THR));
            n++;
        }
        assertEquals(4096, n, "the receive buffer's capacity");
    }
}
