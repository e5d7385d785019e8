package io.isthmus.vfio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Device-register access on a mapped BAR ({@link VfioDevice#mapRegion}): each call is exactly one aligned load or
 * store of its width, volatile, so never merged, split, reordered with other volatile accesses, hoisted out of a
 * polling loop or eliminated, which plain segment accesses do not promise. Offsets must be aligned to the access
 * width. For memory the device reaches by DMA (queues, descriptors) use {@code io.isthmus.vfio.dma.DmaMemory}.
 *
 * <p>Byte order: little-endian, as PCI defines its registers, whatever the CPU's order (on x86-64 the same, so no
 * swap is made). Reads of 8 and 16 bits return the unsigned value in an {@code int}.
 *
 * <p>Ordering: every access is volatile, so the names give widths only. A write is a volatile store, ordered after
 * every load and store before it in program order, to DMA memory or to a BAR: writing a descriptor into DMA
 * memory (even with plain {@code DmaMemory.putLong}) and then ringing the doorbell with {@link #write32} makes the
 * descriptor visible to the device first, with no fence in between (x86-64 does not reorder a store to an
 * uncached BAR with earlier stores; the volatile store keeps the JIT from doing so). A read is a volatile load:
 * reads after it in program order, of DMA memory too, happen after it, so reading a completion register and then
 * the completion entry is ordered.
 *
 * <p>Stateless; thread-safe (ordering between threads is the device's business). Allocates nothing.
 */
public final class Mmio {
    private static final VarHandle U8 = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

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
