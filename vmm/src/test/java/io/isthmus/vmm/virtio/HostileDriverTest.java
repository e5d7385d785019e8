package io.isthmus.vmm.virtio;

import static io.isthmus.vmm.virtio.VirtioBlkTest.BUF;
import static io.isthmus.vmm.virtio.VirtioBlkTest.F_INDIRECT;
import static io.isthmus.vmm.virtio.VirtioBlkTest.F_NEXT;
import static io.isthmus.vmm.virtio.VirtioBlkTest.F_WRITE;
import static io.isthmus.vmm.virtio.VirtioBlkTest.HEADER;
import static io.isthmus.vmm.virtio.VirtioBlkTest.STATUS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Consumer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile driver: every bad address, length, index and chain marks the device broken (DEVICE_NEEDS_RESET, a
 * configuration change interrupt once DRIVER_OK is set, a reason on the error sink), nothing escapes the bus
 * methods, no buffer is used, the file is untouched, and a reset brings the device back.
 */
class HostileDriverTest {
    @TempDir
    Path dir;
    private Path img;
    private byte[] original;
    private TestDriver d;

    @BeforeEach
    void open() throws IOException {
        original = new byte[64 * 512];
        new Random(1).nextBytes(original);
        img = dir.resolve("disk.img");
        Files.write(img, original);
        d = new TestDriver(VirtioBlk.open(img, false, null));
    }

    @AfterEach
    void close() {
        d.close();
    }

    /** Brings the device up, runs {@code abuse}, and checks that it is broken (with a reason containing {@code why}). */
    private void assertBroken(String why, Consumer<TestDriver> abuse) throws IOException {
        d.start();
        abuse.accept(d);
        d.kick();
        assertBrokenNow(why, true);
    }

    private void assertBrokenNow(String why, boolean configInterrupt) throws IOException {
        assertTrue(d.broken(), "DEVICE_NEEDS_RESET");
        assertTrue((d.reg(VirtioMmioTransport.STATUS) & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0);
        assertEquals(1, d.errors.size(), d.errors.toString());
        assertTrue(d.errors.get(0).contains(why), d.errors.get(0));
        if (configInterrupt) {
            assertTrue(d.line);
            assertEquals(VirtioMmioTransport.INT_CONFIG, d.reg(VirtioMmioTransport.INTERRUPT_STATUS));
        }
        assertFalse(d.hasUsed(), "no buffer used");
        assertArrayEquals(original, Files.readAllBytes(img), "the disk is untouched");

        // Broken stays broken: a further notification does nothing.
        d.kick();
        assertFalse(d.hasUsed());
        assertEquals(1, d.errors.size());

        // A reset and a proper bring-up make it work again.
        d.memory.write(TestDriver.AVAIL, new byte[4096]);
        d.memory.write(TestDriver.USED, new byte[4096]);
        d.reg(VirtioMmioTransport.STATUS, 0);
        assertEquals(0, d.reg(VirtioMmioTransport.STATUS));
        assertFalse(d.line, "reset lowers the line");
        d.start();
        int head = VirtioBlkTest.request(d, VirtioBlk.T_IN, 1, true, BUF, 512);
        d.kick();
        assertFalse(d.broken(), d.errors.toString());
        assertEquals(head, d.nextUsed());
        assertEquals(VirtioBlk.S_OK, d.memory.readByte(STATUS));
    }

    /** A read request whose single data buffer is {@code addr, len}. */
    private static void readInto(TestDriver d, long addr, int len) {
        d.memory.writeInt(HEADER, VirtioBlk.T_IN);
        d.memory.writeLong(HEADER + 8, 0);
        d.desc(0, HEADER, 16, F_NEXT, 1);
        d.desc(1, addr, len, F_NEXT | F_WRITE, 2);
        d.desc(2, STATUS, 1, F_WRITE, 0);
        d.publish(0);
    }

    @Test
    void bufferOutsideRam() throws IOException {
        assertBroken("outside guest RAM", t -> readInto(t, TestDriver.RAM + 0x1000, 512));
    }

    @Test
    void bufferRunningPastTheEndOfRam() throws IOException {
        assertBroken("outside guest RAM", t -> readInto(t, TestDriver.RAM - 256, 512));
    }

    @Test
    void bufferLengthWrapsTheAddressSpace() throws IOException {
        assertBroken("outside guest RAM", t -> readInto(t, -256L, 512));
    }

    @Test
    void headerOutsideRam() throws IOException {
        assertBroken("outside guest RAM", t -> {
            t.desc(0, 0xFFFF_FFFF_0000L, 16, F_NEXT, 1);
            t.desc(1, STATUS, 1, F_WRITE, 0);
            t.publish(0);
        });
    }

    @Test
    void chainLoop() throws IOException {
        assertBroken("loops", t -> {
            t.desc(0, HEADER, 16, F_NEXT, 1);
            t.desc(1, BUF, 512, F_NEXT | F_WRITE, 2);
            t.desc(2, STATUS, 1, F_NEXT | F_WRITE, 1);
            t.publish(0);
        });
    }

    @Test
    void chainLongerThanTheQueue() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(4);
        d.driverOk();
        d.desc(0, HEADER, 16, F_NEXT, 1);
        d.desc(1, BUF, 512, F_NEXT | F_WRITE, 2);
        d.desc(2, BUF + 512, 512, F_NEXT | F_WRITE, 3);
        d.desc(3, STATUS, 1, F_NEXT | F_WRITE, 0); // a fifth buffer in a queue of four
        d.publish(0);
        d.kick();
        assertBrokenNow("runs past the queue size", true);
    }

    @Test
    void nextIndexPastTheTable() throws IOException {
        assertBroken("next index 4096", t -> {
            t.desc(0, HEADER, 16, F_NEXT, 4096);
            t.publish(0);
        });
    }

    @Test
    void headIndexPastTheTable() throws IOException {
        assertBroken("names descriptor 300", t -> t.publish(300));
    }

    @Test
    void availableIndexJumps() throws IOException {
        assertBroken("more than the queue size", t -> {
            readInto(t, BUF, 512);
            t.setAvailIdx(257);
        });
    }

    @Test
    void readableAfterWritable() throws IOException {
        assertBroken("readable buffer after a device-writable", t -> {
            t.desc(0, HEADER, 16, F_NEXT, 1);
            t.desc(1, BUF, 512, F_NEXT | F_WRITE, 2);
            t.desc(2, BUF + 512, 512, F_NEXT, 3);
            t.desc(3, STATUS, 1, F_WRITE, 0);
            t.publish(0);
        });
    }

    @Test
    void indirectWithoutNegotiation() throws IOException {
        d.start(d.deviceFeatures() & ~Virtio.bit(Virtio.F_INDIRECT_DESC));
        d.desc(0, TestDriver.TABLES, 48, F_INDIRECT, 0);
        d.publish(0);
        d.kick();
        assertBrokenNow("VIRTIO_F_INDIRECT_DESC was not negotiated", true);
    }

    @Test
    void nestedIndirect() throws IOException {
        assertBroken("inside an indirect table", t -> {
            t.descAt(TestDriver.TABLES, 0, TestDriver.TABLES + 0x100, 32, F_INDIRECT, 0);
            t.desc(0, TestDriver.TABLES, 16, F_INDIRECT, 0);
            t.publish(0);
        });
    }

    @Test
    void indirectWithNext() throws IOException {
        assertBroken("indirect descriptor with the NEXT flag", t -> {
            t.desc(0, TestDriver.TABLES, 48, F_INDIRECT | F_NEXT, 1);
            t.publish(0);
        });
    }

    @Test
    void indirectTableOfOddLength() throws IOException {
        assertBroken("indirect table of 40 bytes", t -> {
            t.desc(0, TestDriver.TABLES, 40, F_INDIRECT, 0);
            t.publish(0);
        });
    }

    @Test
    void indirectTableOutsideRam() throws IOException {
        assertBroken("outside guest RAM", t -> {
            t.desc(0, TestDriver.RAM - 32, 64, F_INDIRECT, 0);
            t.publish(0);
        });
    }

    @Test
    void indirectTableTooLarge() throws IOException {
        assertBroken("at most 256 entries", t -> {
            t.desc(0, TestDriver.TABLES, 257 * 16, F_INDIRECT, 0);
            t.publish(0);
        });
    }

    @Test
    void indirectTableLoop() throws IOException {
        assertBroken("runs past its indirect table", t -> {
            t.descAt(TestDriver.TABLES, 0, HEADER, 16, F_NEXT, 1);
            t.descAt(TestDriver.TABLES, 1, BUF, 512, F_NEXT | F_WRITE, 0);
            t.desc(0, TestDriver.TABLES, 32, F_INDIRECT, 0);
            t.publish(0);
        });
    }

    @Test
    void requestWithoutHeader() throws IOException {
        assertBroken("no 16-byte header", t -> {
            t.desc(0, HEADER, 8, F_NEXT, 1);
            t.desc(1, STATUS, 1, F_WRITE, 0);
            t.publish(0);
        });
    }

    @Test
    void requestWithoutStatusByte() throws IOException {
        assertBroken("no device-writable status byte", t -> {
            t.desc(0, HEADER, 16, 0, 0);
            t.publish(0);
        });
    }

    @Test
    void notifyBeforeDriverOk() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(256);
        readInto(d, BUF, 512);
        d.kick();
        assertBrokenNow("before DRIVER_OK", false);
    }

    @Test
    void usedRingOutsideRam() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(256, TestDriver.DESC, TestDriver.AVAIL, TestDriver.RAM - 1024);
        assertEquals(0, d.reg(VirtioMmioTransport.QUEUE_READY), "the queue did not become ready");
        d.driverOk();
        assertBrokenNow("used ring at 0xfffc00 of 2054 bytes is outside guest RAM", false);
    }

    @Test
    void descriptorTableAbove4GiB() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(256, 0x1_0000_1000L, TestDriver.AVAIL, TestDriver.USED);
        assertBrokenNow("descriptor table at 0x100001000", false);
    }

    @Test
    void misalignedRing() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(256, TestDriver.DESC + 8, TestDriver.AVAIL, TestDriver.USED);
        assertBrokenNow("not 16-byte aligned", false);
    }

    @Test
    void queueSizeNotAPowerOfTwo() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(3);
        assertBrokenNow("size 3 is not a power of two", false);
    }

    @Test
    void queueSizeAboveTheMaximum() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(512);
        assertBrokenNow("size 512", false);
    }

    @Test
    void queueSizeZero() throws IOException {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(0);
        assertBrokenNow("size 0", false);
    }

    @Test
    void driverOkWithoutFeaturesOk() throws IOException {
        d.reg(VirtioMmioTransport.STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        d.setupQueue(256);
        d.driverOk();
        assertBrokenNow("DRIVER_OK without FEATURES_OK", true);
    }

    /**
     * Garbage: random descriptor tables, rings and indexes, notified over and over. Nothing escapes, nothing
     * outside RAM is touched (the file is untouched unless a well-formed write happened), and every run ends either
     * broken or with a consistent used ring.
     */
    @Test
    void randomRingsNeverEscape() {
        Random r = new Random(42);
        for (int round = 0; round < 2000; round++) {
            d.errors.clear();
            d.start();
            // Buffers mostly in the data area (so that some chains are well-formed and complete), some anywhere.
            for (int i = 0; i < 256; i++) {
                long addr = r.nextInt(4) == 0 ? r.nextLong() : TestDriver.DATA + r.nextInt(1 << 20);
                int len = r.nextInt(8) == 0 ? r.nextInt() : r.nextInt(2048);
                d.desc(i, addr, len, r.nextInt(8), r.nextInt(8) == 0 ? r.nextInt(65536) : r.nextInt(256));
            }
            int published = 1 + r.nextInt(4);
            for (int i = 0; i < published; i++) {
                d.publish(r.nextInt(8) == 0 ? r.nextInt(65536) : r.nextInt(256));
            }
            boolean jumped = r.nextInt(10) == 0;
            if (jumped) {
                d.setAvailIdx(r.nextInt(65536));
            }
            d.kick();
            d.kick();
            assertEquals(d.broken(), !d.errors.isEmpty(), d.errors.toString());
            if (!d.broken() && !jumped) {
                assertEquals(published, d.usedIdx(), "round " + round + ": every chain was used");
            }
        }
    }
}
