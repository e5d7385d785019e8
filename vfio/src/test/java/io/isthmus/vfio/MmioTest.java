package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Widths and byte order of the register accessors, on ordinary memory (the lab checks them on edu's BAR). */
class MmioTest {
    @Test
    void accessesAreLittleEndianAndSized() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(16, 8);
            Mmio.write32(m, 0, 0x010000ed);
            assertEquals(0xed, Mmio.read8(m, 0));
            assertEquals(0x00ed, Mmio.read16(m, 0));
            assertEquals(0x0100, Mmio.read16(m, 2));
            Mmio.write64(m, 8, 0xfedcba9876543210L);
            assertEquals(0x76543210, Mmio.read32(m, 8));
            assertEquals(0xfedcba9876543210L, Mmio.read64(m, 8));
            Mmio.write8(m, 15, 0x12);
            Mmio.write16(m, 12, 0xbeef);
            assertEquals(0x12dcbeef, Mmio.read32(m, 12));
        }
    }
}
