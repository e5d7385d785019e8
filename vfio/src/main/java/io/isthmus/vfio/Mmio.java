package io.isthmus.vfio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Device-register access on a mapped BAR: each call is exactly one aligned load or store of its width, in program
 * order (volatile), never merged, split, hoisted out of a polling loop or eliminated, which plain segment accesses
 * do not promise. Offsets must be aligned to the access width.
 *
 * <p>Stateless; thread-safe (ordering between threads is the device's business). Allocates nothing.
 */
public final class Mmio {
    private static final VarHandle U8 = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle U16 = ValueLayout.JAVA_SHORT.varHandle();
    private static final VarHandle U32 = ValueLayout.JAVA_INT.varHandle();
    private static final VarHandle U64 = ValueLayout.JAVA_LONG.varHandle();

    private Mmio() {}

    public static int read8(MemorySegment bar, long offset) {
        return (byte) U8.getVolatile(bar, offset) & 0xff;
    }

    public static int read16(MemorySegment bar, long offset) {
        return (short) U16.getVolatile(bar, offset) & 0xffff;
    }

    public static int read32(MemorySegment bar, long offset) {
        return (int) U32.getVolatile(bar, offset);
    }

    public static long read64(MemorySegment bar, long offset) {
        return (long) U64.getVolatile(bar, offset);
    }

    public static void write8(MemorySegment bar, long offset, int value) {
        U8.setVolatile(bar, offset, (byte) value);
    }

    public static void write16(MemorySegment bar, long offset, int value) {
        U16.setVolatile(bar, offset, (short) value);
    }

    public static void write32(MemorySegment bar, long offset, int value) {
        U32.setVolatile(bar, offset, value);
    }

    public static void write64(MemorySegment bar, long offset, long value) {
        U64.setVolatile(bar, offset, value);
    }
}
