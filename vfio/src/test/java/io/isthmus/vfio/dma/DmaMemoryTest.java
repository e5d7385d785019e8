package io.isthmus.vfio.dma;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Byte order, widths and argument checks of the DMA accessors (the lab checks them against edu's DMA engine). */
class DmaMemoryTest {
    @Test
    void everyWidthAndOrderingIsLittleEndianInMemory() {
        try (DmaBuffer b = DmaBuffer.anonymous(4096)) {
            DmaMemory m = b.memory();
            m.putInt(0, 0x44332211);
            m.putShortRelease(4, (short) 0x6655);
            m.putByteVolatile(6, (byte) 0x77);
            m.putByteRelease(7, (byte) 0x88);
            m.putLongRelease(8, 0x0102030405060708L);
            m.putIntVolatile(16, 0xddccbbaa);
            m.putShort(20, (short) 0xffee);
            m.putByte(22, (byte) 0x01);
            m.putLongVolatile(24, -2);
            byte[] raw = b.segment().asSlice(0, 32).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(new byte[] {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, (byte) 0x88, 8, 7, 6, 5, 4, 3, 2,
                    1, (byte) 0xaa, (byte) 0xbb, (byte) 0xcc, (byte) 0xdd, (byte) 0xee, (byte) 0xff, 1, 0, (byte) 0xfe,
                    -1, -1, -1, -1, -1, -1, -1}, raw);
            assertEquals(0x8877665544332211L, m.getLongAcquire(0));
            assertEquals(0x8877665544332211L, m.getLongVolatile(0));
            assertEquals(0x44332211, m.getIntAcquire(0));
            assertEquals(0x44332211, m.getIntVolatile(0));
            assertEquals((short) 0x6655, m.getShortAcquire(4));
            assertEquals((short) 0x8877, m.getShortVolatile(6));
            assertEquals((byte) 0x88, m.getByteAcquire(7));
            assertEquals((byte) 0x77, m.getByteVolatile(6));
            byte[] block = new byte[4];
            m.getBytesAcquire(16, block, 0, 4);
            assertArrayEquals(new byte[] {(byte) 0xaa, (byte) 0xbb, (byte) 0xcc, (byte) 0xdd}, block);
            m.putBytes(32, new byte[] {9, 8, 7, 6}, 1, 2);
            assertEquals(0x0708, m.getShortAcquire(32));
            m.fill(40, 8, (byte) 0x5a);
            assertEquals(0x5a5a5a5a5a5a5a5aL, m.getLongAcquire(40));
        }
    }

    @Test
    void slicesStartWhereTheySayAndBadOffsetsAreNamed() {
        try (DmaBuffer b = DmaBuffer.anonymous(8192)) {
            DmaMemory queue = b.memory().slice(4096, 4096);
            queue.putIntRelease(0, 42);
            assertEquals(42, b.memory().getIntAcquire(4096));
            assertEquals(4096, queue.size());
            var e = assertThrows(IllegalArgumentException.class, () -> queue.getLongAcquire(4));
            assertTrue(e.getMessage().contains("offset 4 is not a multiple of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> queue.putShort(1, (short) 0));
            assertTrue(e.getMessage().contains("not a multiple of 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> b.memory().slice(4, 8));
            assertTrue(e.getMessage().contains("multiple of 8"), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> queue.getIntAcquire(4096));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment odd = arena.allocate(64, 8).asSlice(4);
            var e = assertThrows(IllegalArgumentException.class, () -> DmaMemory.of(odd));
            assertTrue(e.getMessage().contains("8-byte boundary"), e.getMessage());
        }
    }

    @Test
    void accessAfterTheBufferIsClosedFails() {
        DmaBuffer b = DmaBuffer.anonymous(4096);
        DmaMemory m = b.memory();
        b.close();
        assertThrows(IllegalStateException.class, () -> m.getIntAcquire(0));
    }

    @Test
    void thePageSizeIsPublicAndBuffersAreWholePages() {
        long page = DmaBuffer.pageSize();
        assertTrue(page >= 4096 && Long.bitCount(page) == 1, "page size " + page);
        try (DmaBuffer b = DmaBuffer.anonymous(1)) {
            assertEquals(page, b.size());
            assertEquals(0, b.segment().address() % page);
        }
    }
}
