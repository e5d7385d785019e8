package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The UART between a hostile guest and a slow host: the vCPU never waits for the reader (a stalled backend costs
 * dropped bytes, not a blocked vCPU), a guest that honours THRE loses nothing, memory stays bounded, and a host
 * writing input at full speed is held back rather than dropped. Host-only: no KVM, the vCPU is this thread.
 */
class SerialBackpressureTest {
    static final int LSR = 5, THR = 0, RBR = 0, IER = 1, IIR = 2;
    static final int THRE = 0x20;

    /** A backend that takes nothing until released. */
    static final class StalledOut extends OutputStream {
        final CountDownLatch release = new CountDownLatch(1);
        final ByteArrayOutputStream got = new ByteArrayOutputStream();

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (got) {
                got.write(b, off, len);
            }
        }
    }

    @Test
    void aStalledReaderNeverBlocksTheVcpu() {
        StalledOut out = new StalledOut();
        Serial16550 uart = new Serial16550(out, IrqLine.NONE);
        int n = 1_000_000;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            uart.write(THR, 1, 'a' + i % 26);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 5000, n + " THR writes took " + ms + " ms with the reader stalled");
        assertEquals(0, uart.read(LSR, 1) & THRE, "the transmitter reports busy while the queue is full");
        long dropped = uart.droppedBytes();
        assertTrue(dropped >= n - Serial16550.TX_CAPACITY - 8192 && dropped < n, "dropped " + dropped);
        out.release.countDown();
        uart.flush();
        assertEquals(n - dropped, uart.transmittedBytes());
        assertEquals(n - dropped, out.got.size());
        assertEquals(THRE, uart.read(LSR, 1) & THRE, "ready again once drained");
        uart.close();
    }

    @Test
    void aGuestThatHonoursThreLosesNothingToASlowReader() {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        OutputStream slow = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                got.write(b, off, len);
            }
        };
        Serial16550 uart = new Serial16550(slow, IrqLine.NONE);
        int n = 300_000;
        byte[] expect = new byte[n];
        for (int i = 0; i < n; ) {
            if ((uart.read(LSR, 1) & THRE) == 0) {
                Thread.onSpinWait();
                continue;
            }
            for (int k = 0; k < Serial16550.FIFO && i < n; k++, i++) {
                expect[i] = (byte) ('a' + i % 26);
                uart.write(THR, 1, expect[i]);
            }
        }
        uart.close();
        assertEquals(0, uart.droppedBytes());
        assertArrayEquals(expect, got.toByteArray());
    }

    @Test
    void threEmptyInterruptComesWhenTheReaderMakesRoom() throws Exception {
        StalledOut out = new StalledOut();
        boolean[] level = {false};
        Serial16550 uart = new Serial16550(out, l -> {
            synchronized (level) {
                level[0] = l;
            }
        });
        uart.write(IER, 1, 0x02); // THR empty interrupt
        assertEquals(0x02, uart.read(IIR, 1) & 0x0f);
        while ((uart.read(LSR, 1) & THRE) != 0) {
            uart.write(THR, 1, 'x');
        }
        assertEquals(0x01, uart.read(IIR, 1) & 0x0f, "no THR-empty interrupt while busy");
        out.release.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline && (uart.read(LSR, 1) & THRE) == 0) {
            Thread.sleep(1);
        }
        uart.flush();
        synchronized (level) {
            assertTrue(level[0], "THR-empty raised once there was room");
        }
        assertEquals(0x02, uart.read(IIR, 1) & 0x0f);
        uart.close();
    }

    @Test
    void inputAtFullSpeedIsHeldBackNotDropped() throws Exception {
        int n = 200_000;
        byte[] sent = new byte[n];
        for (int i = 0; i < n; i++) {
            sent[i] = (byte) (i * 7);
        }
        Serial16550 uart = new Serial16550(OutputStream.nullOutputStream(), IrqLine.NONE);
        InputStream in = new ByteArrayInputStream(sent);
        uart.startInput(in);
        byte[] got = new byte[n];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int i = 0; i < n; ) {
            if ((uart.read(LSR, 1) & 0x01) != 0) {
                got[i++] = (byte) uart.read(RBR, 1);
            } else {
                assertTrue(System.nanoTime() < deadline, "only " + i + " of " + n + " bytes arrived");
                Thread.onSpinWait();
            }
        }
        assertArrayEquals(sent, got);
        uart.close();
    }
}
