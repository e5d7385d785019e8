package io.isthmus.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

/** virtio-rng fills the driver's buffers from its source, as Linux's virtio-rng asks for them. */
class VirtioRngTest {
    static final int F_NEXT = 1, F_WRITE = 2;
    static final long BUF = TestDriver.DATA;

    /** A source counting 0, 1, 2, ... (mod 256), that can also stop early. */
    static final class Counter implements ReadableByteChannel {
        int next;
        int left = Integer.MAX_VALUE;
        boolean open = true;

        @Override
        public int read(ByteBuffer dst) {
            if (left == 0) {
                return -1;
            }
            int n = Math.min(dst.remaining(), left);
            for (int i = 0; i < n; i++) {
                dst.put((byte) next++);
            }
            left -= n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }

    static byte[] counting(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    @Test
    void fillsWritableBuffers() {
        Counter c = new Counter();
        try (TestDriver d = new TestDriver(new VirtioRng(c)).start()) {
            assertEquals(Virtio.ID_ENTROPY, d.reg(0x008));
            assertEquals(VirtioRng.QUEUE_SIZE, d.reg(VirtioMmioTransport.QUEUE_NUM_MAX));
            d.desc(0, BUF, 64, F_WRITE, 0);
            d.publish(0);
            d.kick();
            assertEquals(0, d.nextUsed());
            assertEquals(64, d.lastUsedLength);
            assertArrayEquals(counting(0, 64), d.memory.readBytes(BUF, 64));
            assertTrue(d.line);

            // Two buffers in one chain, after a readable one the device ignores.
            d.desc(1, BUF + 0x1000, 7, F_NEXT, 2);
            d.desc(2, BUF + 0x2000, 10, F_NEXT | F_WRITE, 3);
            d.desc(3, BUF + 0x3000, 6, F_WRITE, 0);
            d.publish(1);
            d.kick();
            assertEquals(1, d.nextUsed());
            assertEquals(16, d.lastUsedLength);
            assertArrayEquals(counting(64, 10), d.memory.readBytes(BUF + 0x2000, 10));
            assertArrayEquals(counting(74, 6), d.memory.readBytes(BUF + 0x3000, 6));
            assertArrayEquals(new byte[7], d.memory.readBytes(BUF + 0x1000, 7));
        }
        assertFalse(c.open, "closed with the transport");
    }

    /**
     * A buffer used while the driver has not yet acknowledged the last interrupt sets the line again (a new edge
     * on an edge-triggered pin), as QEMU does; acknowledging part of the status keeps it up.
     */
    @Test
    void everyInterruptSetsTheLine() {
        // Without EVENT_IDX, which would rightly suppress the second (used_event still asks for entry 0 only).
        try (TestDriver d = new TestDriver(new VirtioRng(new Counter()))) {
            d.start(d.deviceFeatures() & ~Virtio.bit(Virtio.F_EVENT_IDX));
            for (int i = 0; i < 2; i++) {
                d.desc(i, BUF, 8, F_WRITE, 0);
                d.publish(i);
                d.kick();
            }
            assertEquals(1, d.raised);
            assertEquals(2, d.highs);
            assertEquals(VirtioMmioTransport.INT_USED_BUFFER, d.reg(VirtioMmioTransport.INTERRUPT_STATUS));
            d.reg(VirtioMmioTransport.INTERRUPT_ACK, VirtioMmioTransport.INT_CONFIG);
            assertTrue(d.line);
            d.reg(VirtioMmioTransport.INTERRUPT_ACK, VirtioMmioTransport.INT_USED_BUFFER);
            assertFalse(d.line);
        }
    }

    @Test
    void capsARequestAndReportsWhatItGave() {
        Counter c = new Counter();
        try (TestDriver d = new TestDriver(new VirtioRng(c)).start()) {
            d.desc(0, BUF, 1 << 20, F_WRITE, 0);
            d.publish(0);
            d.kick();
            d.nextUsed();
            assertEquals(VirtioRng.MAX_PER_REQUEST, d.lastUsedLength);
            c.left = 5; // the source runs dry
            d.desc(1, BUF, 64, F_WRITE, 0);
            d.publish(1);
            d.kick();
            d.nextUsed();
            assertEquals(5, d.lastUsedLength);
            assertFalse(d.broken());
        }
    }

    @Test
    void urandomGivesRandomBytes() {
        try (TestDriver d = new TestDriver(new VirtioRng()).start()) {
            d.desc(0, BUF, 256, F_WRITE, 0);
            d.publish(0);
            d.kick();
            d.nextUsed();
            assertEquals(256, d.lastUsedLength);
            byte[] b = d.memory.readBytes(BUF, 256);
            assertFalse(Arrays.equals(new byte[256], b), "not all zero");
            assertTrue(distinct(b) > 100,
                    "256 random bytes have well over 100 distinct values");
        }
    }

    private static int distinct(byte[] b) {
        boolean[] seen = new boolean[256];
        int n = 0;
        for (byte x : b) {
            if (!seen[x & 0xFF]) {
                seen[x & 0xFF] = true;
                n++;
            }
        }
        return n;
    }
}
