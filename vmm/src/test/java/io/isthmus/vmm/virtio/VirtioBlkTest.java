package io.isthmus.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-blk on a file, driven as Linux's virtio_blk drives it: the outcomes are the file's bytes, guest RAM's
 * bytes and the status byte.
 */
class VirtioBlkTest {
    static final int F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
    static final long HEADER = TestDriver.DATA, STATUS = TestDriver.DATA + 0x100, BUF = TestDriver.DATA + 0x10000;

    @TempDir
    Path dir;
    private TestDriver d;

    @AfterEach
    void close() {
        if (d != null) {
            d.close();
        }
    }

    /** An image of {@code size} bytes of a seeded pattern. */
    private Path image(int size) throws IOException {
        byte[] b = new byte[size];
        new Random(size).nextBytes(b);
        Path p = dir.resolve("disk" + size + ".img");
        Files.write(p, b);
        return p;
    }

    private TestDriver driver(Path image, boolean readOnly, String serial) throws IOException {
        d = new TestDriver(VirtioBlk.open(image, readOnly, serial));
        return d.start();
    }

    /** A request: header, then the data buffers ({address, length} pairs), then the status byte. */
    static int request(TestDriver d, int type, long sector, boolean deviceWritesData, long... buffers) {
        d.memory.writeInt(HEADER, type);
        d.memory.writeInt(HEADER + 4, 0);
        d.memory.writeLong(HEADER + 8, sector);
        d.memory.writeByte(STATUS, (byte) 0x7f);
        int n = buffers.length / 2;
        int[] ids = new int[n + 2];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = d.alloc();
        }
        d.desc(ids[0], HEADER, 16, F_NEXT, ids[1]);
        for (int i = 0; i < n; i++) {
            d.desc(ids[i + 1], buffers[2 * i], (int) buffers[2 * i + 1],
                    F_NEXT | (deviceWritesData ? F_WRITE : 0), ids[i + 2]);
        }
        d.desc(ids[n + 1], STATUS, 1, F_WRITE, 0);
        d.publish(ids[0]);
        return ids[0];
    }

    private static int status(TestDriver d) {
        return d.memory.readByte(STATUS) & 0xFF;
    }

    /** Kicks and checks one used entry for {@code head}; returns its length. */
    private int complete(int head) {
        d.kick();
        assertFalse(d.broken(), d.errors.toString());
        assertEquals(head, d.nextUsed());
        assertFalse(d.hasUsed());
        return d.lastUsedLength;
    }

    @Test
    void readsTheFileIntoGuestRam() throws IOException {
        Path img = image(64 * 512);
        byte[] file = Files.readAllBytes(img);
        driver(img, false, null);
        int head = request(d, VirtioBlk.T_IN, 3, true, BUF, 3 * 512);
        assertEquals(3 * 512 + 1, complete(head));
        assertEquals(VirtioBlk.S_OK, status(d));
        assertArrayEquals(Arrays.copyOfRange(file, 3 * 512, 6 * 512), d.memory.readBytes(BUF, 3 * 512));
        assertTrue(d.line, "used buffer interrupt");
        assertEquals(VirtioMmioTransport.INT_USED_BUFFER, d.acknowledge());
        assertFalse(d.line, "the line drops when acknowledged");
    }

    @Test
    void writesGuestRamIntoTheFile() throws IOException {
        Path img = image(64 * 512);
        byte[] before = Files.readAllBytes(img);
        driver(img, false, null);
        byte[] data = new byte[2 * 512];
        new Random(7).nextBytes(data);
        d.memory.write(BUF, data);
        int head = request(d, VirtioBlk.T_OUT, 10, false, BUF, data.length);
        assertEquals(1, complete(head));
        assertEquals(VirtioBlk.S_OK, status(d));
        byte[] after = Files.readAllBytes(img);
        assertArrayEquals(data, Arrays.copyOfRange(after, 10 * 512, 12 * 512));
        assertArrayEquals(Arrays.copyOfRange(before, 0, 10 * 512), Arrays.copyOfRange(after, 0, 10 * 512));
        assertArrayEquals(Arrays.copyOfRange(before, 12 * 512, before.length),
                Arrays.copyOfRange(after, 12 * 512, after.length));
    }

    /** What a completed FLUSH acknowledged is in the file for anyone else, with the device still open. */
    @Test
    void flushedWritesAreInTheFileWithoutClosing() throws IOException {
        Path img = image(16 * 512);
        driver(img, false, null);
        byte[] data = new byte[512];
        Arrays.fill(data, (byte) 0xA5);
        d.memory.write(BUF, data);
        complete(request(d, VirtioBlk.T_OUT, 5, false, BUF, 512));
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(VirtioBlk.S_OK, status(d));
        try (FileChannel other = FileChannel.open(img, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(512);
            other.read(b, 5 * 512);
            assertArrayEquals(data, b.array());
        }
    }

    @Test
    void scatteredDataBuffersAndAnyLayout() throws IOException {
        Path img = image(32 * 512);
        byte[] file = Files.readAllBytes(img);
        driver(img, false, null);
        // A read into three buffers of odd sizes (1536 bytes in all), scattered in RAM.
        int head = request(d, VirtioBlk.T_IN, 2, true, BUF + 0x5000, 100, BUF, 412, BUF + 0x9001, 1024);
        complete(head);
        assertEquals(VirtioBlk.S_OK, status(d));
        byte[] want = Arrays.copyOfRange(file, 2 * 512, 5 * 512);
        assertArrayEquals(Arrays.copyOfRange(want, 0, 100), d.memory.readBytes(BUF + 0x5000, 100));
        assertArrayEquals(Arrays.copyOfRange(want, 100, 512), d.memory.readBytes(BUF, 412));
        assertArrayEquals(Arrays.copyOfRange(want, 512, 1536), d.memory.readBytes(BUF + 0x9001, 1024));

        // The header split over two buffers, and the status byte at the end of the data buffer (2.6.4).
        d.memory.writeInt(HEADER, VirtioBlk.T_IN);
        d.memory.writeInt(HEADER + 4, 0);
        d.memory.writeLong(HEADER + 8, 7);
        int a = d.alloc(), b = d.alloc(), c = d.alloc();
        d.desc(a, HEADER, 5, F_NEXT, b);
        d.desc(b, HEADER + 5, 11, F_NEXT, c);
        d.desc(c, BUF, 513, F_WRITE, 0);
        d.publish(a);
        assertEquals(513, complete(a));
        assertArrayEquals(Arrays.copyOfRange(file, 7 * 512, 8 * 512), d.memory.readBytes(BUF, 512));
        assertEquals(VirtioBlk.S_OK, d.memory.readByte(BUF + 512));
    }

    @Test
    void indirectTable() throws IOException {
        Path img = image(32 * 512);
        byte[] file = Files.readAllBytes(img);
        driver(img, false, null);
        long table = TestDriver.TABLES;
        d.memory.writeInt(HEADER, VirtioBlk.T_IN);
        d.memory.writeLong(HEADER + 8, 1);
        d.descAt(table, 0, HEADER, 16, F_NEXT, 1);
        d.descAt(table, 1, BUF, 512, F_NEXT | F_WRITE, 2);
        d.descAt(table, 2, BUF + 0x1000, 512, F_NEXT | F_WRITE, 3);
        d.descAt(table, 3, STATUS, 1, F_WRITE, 0);
        int head = d.alloc();
        d.desc(head, table, 4 * 16, F_INDIRECT, 0);
        d.publish(head);
        complete(head);
        assertEquals(VirtioBlk.S_OK, status(d));
        assertArrayEquals(Arrays.copyOfRange(file, 512, 1024), d.memory.readBytes(BUF, 512));
        assertArrayEquals(Arrays.copyOfRange(file, 1024, 1536), d.memory.readBytes(BUF + 0x1000, 512));
    }

    @Test
    void readOnlyDiskRefusesWrites() throws IOException {
        Path img = image(8 * 512);
        byte[] before = Files.readAllBytes(img);
        driver(img, true, null);
        assertTrue((d.deviceFeatures() & Virtio.bit(VirtioBlk.F_RO)) != 0, "RO offered");
        d.memory.write(BUF, new byte[512]);
        complete(request(d, VirtioBlk.T_OUT, 0, false, BUF, 512));
        assertEquals(VirtioBlk.S_IOERR, status(d));
        assertArrayEquals(before, Files.readAllBytes(img));
        complete(request(d, VirtioBlk.T_IN, 1, true, BUF, 512));
        assertEquals(VirtioBlk.S_OK, status(d));
        assertArrayEquals(Arrays.copyOfRange(before, 512, 1024), d.memory.readBytes(BUF, 512));
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(VirtioBlk.S_OK, status(d));
    }

    @Test
    void featuresAndConfigurationSpace() throws IOException {
        Path img = image(100 * 512 + 7); // not a whole number of sectors: QEMU rounds up
        driver(img, false, null);
        long f = d.deviceFeatures();
        assertEquals(Virtio.bit(VirtioBlk.F_SEG_MAX) | Virtio.bit(VirtioBlk.F_BLK_SIZE) | Virtio.bit(VirtioBlk.F_FLUSH),
                f & 0xFF_FFFF);
        assertEquals(0, f & Virtio.bit(VirtioBlk.F_RO));
        // capacity as Linux reads a 64-bit field through virtio-mmio: two 32-bit halves
        long capacity = (d.reg(0x100) & 0xFFFF_FFFFL) | (long) d.reg(0x104) << 32;
        assertEquals(101, capacity);
        assertEquals(VirtioBlk.QUEUE_SIZE - 2, d.reg(0x10c), "seg_max");
        assertEquals(512, d.reg(0x114), "blk_size");
        assertEquals(101, d.transport.read(0x100, 1));
        assertEquals(0xFFFF_FFFFL, d.transport.read(0x100 + VirtioBlk.CONFIG_SIZE, 4) & 0xFFFF_FFFFL,
                "past the configuration space: all ones");
        assertEquals(256, d.reg(VirtioMmioTransport.QUEUE_NUM_MAX));
    }

    @Test
    void lastPartialSectorReadsZerosPastTheFile() throws IOException {
        Path img = image(4 * 512 + 100);
        byte[] file = Files.readAllBytes(img);
        driver(img, false, null);
        d.memory.write(BUF, filled(512, 0x55));
        complete(request(d, VirtioBlk.T_IN, 4, true, BUF, 512));
        assertEquals(VirtioBlk.S_OK, status(d));
        byte[] want = new byte[512];
        System.arraycopy(file, 4 * 512, want, 0, 100);
        assertArrayEquals(want, d.memory.readBytes(BUF, 512));
    }

    @Test
    void requestsOutsideTheDiskOrNotInSectorsGetIoerr() throws IOException {
        Path img = image(16 * 512);
        byte[] before = Files.readAllBytes(img);
        driver(img, false, null);
        complete(request(d, VirtioBlk.T_IN, 15, true, BUF, 1024));
        assertEquals(VirtioBlk.S_IOERR, status(d), "one sector past the end");
        complete(request(d, VirtioBlk.T_IN, 16, true, BUF, 512));
        assertEquals(VirtioBlk.S_IOERR, status(d), "at the end");
        complete(request(d, VirtioBlk.T_OUT, -1L, false, BUF, 512));
        assertEquals(VirtioBlk.S_IOERR, status(d), "sector 2^64 - 1 (overflows when multiplied by 512)");
        complete(request(d, VirtioBlk.T_OUT, (1L << 55) + 1, false, BUF, 512));
        assertEquals(VirtioBlk.S_IOERR, status(d), "sector * 512 wraps to 512");
        complete(request(d, VirtioBlk.T_IN, 0, true, BUF, 100));
        assertEquals(VirtioBlk.S_IOERR, status(d), "not a multiple of 512");
        complete(request(d, VirtioBlk.T_IN, 15, true, BUF, 512));
        assertEquals(VirtioBlk.S_OK, status(d), "the last sector");
        assertArrayEquals(before, Files.readAllBytes(img));
        assertEquals(16 * 512, Files.size(img), "the file did not grow");
    }

    @Test
    void getIdAnswersTheSerial() throws IOException {
        driver(image(8 * 512), false, "isthmus-disk");
        d.memory.write(BUF, filled(20, 0x55));
        assertEquals(1 + 13, complete(request(d, VirtioBlk.T_GET_ID, 0, true, BUF, 20)));
        assertEquals(VirtioBlk.S_OK, status(d));
        byte[] want = filled(20, 0x55);
        System.arraycopy("isthmus-disk\0".getBytes(), 0, want, 0, 13);
        assertArrayEquals(want, d.memory.readBytes(BUF, 20));
    }

    @Test
    void getIdTruncatesTo20BytesWithoutTerminator() throws IOException {
        driver(image(8 * 512), false, "0123456789abcdefghijKLMN");
        complete(request(d, VirtioBlk.T_GET_ID, 0, true, BUF, 64));
        assertArrayEquals("0123456789abcdefghij".getBytes(), d.memory.readBytes(BUF, 20));
    }

    @Test
    void getIdWithoutSerialIsEmpty() throws IOException {
        driver(image(8 * 512), false, null);
        d.memory.write(BUF, filled(20, 0x55));
        assertEquals(2, complete(request(d, VirtioBlk.T_GET_ID, 0, true, BUF, 20)));
        assertEquals(0, d.memory.readByte(BUF));
        assertEquals(0x55, d.memory.readByte(BUF + 1));
    }

    @Test
    void unknownRequestTypeIsUnsupported() throws IOException {
        driver(image(8 * 512), false, null);
        complete(request(d, 11, 0, false, BUF, 16)); // DISCARD, not offered
        assertEquals(VirtioBlk.S_UNSUPP, status(d));
    }

    /** Several requests in one notification: all completed, one interrupt. */
    @Test
    void batchOfRequestsOneInterrupt() throws IOException {
        Path img = image(64 * 512);
        byte[] file = Files.readAllBytes(img);
        driver(img, false, null);
        long table = TestDriver.TABLES;
        int[] heads = new int[8];
        for (int i = 0; i < heads.length; i++) {
            long hdr = table + 0x100L * i, st = hdr + 0x20, buf = BUF + 0x1000L * i;
            d.memory.writeInt(hdr, VirtioBlk.T_IN);
            d.memory.writeLong(hdr + 8, i * 2L);
            int a = d.alloc(), b = d.alloc(), c = d.alloc();
            d.desc(a, hdr, 16, F_NEXT, b);
            d.desc(b, buf, 512, F_NEXT | F_WRITE, c);
            d.desc(c, st, 1, F_WRITE, 0);
            d.publish(a);
            heads[i] = a;
        }
        d.kick();
        assertEquals(1, d.raised);
        for (int i = 0; i < heads.length; i++) {
            assertEquals(heads[i], d.nextUsed());
            assertEquals(0, d.memory.readByte(table + 0x100L * i + 0x20));
            assertArrayEquals(Arrays.copyOfRange(file, i * 1024, i * 1024 + 512),
                    d.memory.readBytes(BUF + 0x1000L * i, 512));
        }
    }

    /** With EVENT_IDX the driver's used_event decides the interrupt, and the device publishes avail_event. */
    @Test
    void eventIndexSuppressesAndRequestsNotifications() throws IOException {
        driver(image(8 * 512), false, null);
        assertTrue((d.deviceFeatures() & Virtio.bit(Virtio.F_EVENT_IDX)) != 0);
        d.usedEvent(0); // interrupt after the first used buffer
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(1, d.raised);
        assertEquals(1, d.availEvent(), "notify me when available entry 1 is published");
        d.acknowledge();
        d.usedEvent(5); // not before used entry 5 is published
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(1, d.raised, "suppressed");
        for (int i = 0; i < 3; i++) {
            complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        }
        assertEquals(1, d.raised, "used idx 5: still before used_event 5 was crossed");
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(2, d.raised, "used entry 5 published");
        assertEquals(6, d.availEvent());
    }

    /** Without EVENT_IDX the NO_INTERRUPT flag suppresses interrupts. */
    @Test
    void noInterruptFlagWithoutEventIndex() throws IOException {
        d = new TestDriver(VirtioBlk.open(image(8 * 512), false, null));
        d.start(d.deviceFeatures() & ~Virtio.bit(Virtio.F_EVENT_IDX));
        d.availFlags(1);
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(0, d.raised);
        d.availFlags(0);
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        assertEquals(1, d.raised);
    }

    /** A device reset and a new bring-up: the queue starts over at index 0 and works. */
    @Test
    void worksAgainAfterReset() throws IOException {
        Path img = image(8 * 512);
        byte[] file = Files.readAllBytes(img);
        driver(img, false, null);
        complete(request(d, VirtioBlk.T_FLUSH, 0, true));
        d.transport.reset();
        assertEquals(0, d.reg(VirtioMmioTransport.STATUS));
        assertEquals(0, d.reg(VirtioMmioTransport.QUEUE_READY));
        d.memory.write(TestDriver.USED, new byte[4096]);
        d.start();
        complete(request(d, VirtioBlk.T_IN, 2, true, BUF, 512));
        assertArrayEquals(Arrays.copyOfRange(file, 1024, 1536), d.memory.readBytes(BUF, 512));
    }

    @Test
    void closeClosesTheFileOnce() throws IOException {
        Path img = image(8 * 512);
        driver(img, false, null);
        d.transport.close();
        d.transport.close();
        request(d, VirtioBlk.T_FLUSH, 0, true);
        d.kick();
        assertFalse(d.hasUsed(), "nothing is processed after close");
        assertFalse(d.broken());
    }

    static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }
}
