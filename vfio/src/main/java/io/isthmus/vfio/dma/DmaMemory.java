package io.isthmus.vfio.dma;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Typed access to memory a device reads or writes by DMA (queues, descriptors, completions, data buffers), in the
 * byte order PCI and DMA structures use, little-endian, and with the memory ordering each method's name states
 * (Agrona's naming: {@code getIntVolatile}, {@code getLongAcquire}, {@code putIntRelease}, ...).
 *
 * <h2>Which accessor</h2>
 * <ul>
 *   <li><b>Memory the device writes</b> (a completion entry, a status word, received data): read it only with
 *       {@code getXxxAcquire} or {@code getXxxVolatile}, or {@link #getBytesAcquire} for a block. A plain read may
 *       be hoisted out of a polling loop or served from a register: the device writes behind the JIT's back.
 *       Read the field that says "done" (a phase bit, a status) with an acquire first; reads after it in program
 *       order see what the device wrote before it.</li>
 *   <li><b>Memory the device only reads</b> (a submission entry, transmit data): fill it with the plain
 *       {@code putXxx} or {@link #putBytes}, then publish it: either the last field with {@code putXxxRelease}
 *       (the device polls it) or the doorbell, a volatile MMIO store ({@code io.isthmus.vfio.Mmio.write32}).
 *       Both order every store before them in program order ahead of themselves.</li>
 * </ul>
 *
 * <h2>Write the descriptor, then ring the doorbell</h2>
 * <pre>{@code
 * DmaMemory sq = submissionQueue.memory();
 * sq.putLong(slot + 0, bufferIova);           // plain stores: the device does not look yet
 * sq.putInt(slot + 8, length);
 * sq.putIntRelease(slot + 12, command);       // publishes the entry (for a device that polls it)
 * Mmio.write32(bar0, DOORBELL, tail);         // volatile MMIO store: the entry is visible before the doorbell
 * ...
 * while ((cq.getIntAcquire(head + 12) & PHASE) != phase) { Thread.onSpinWait(); }   // the device's completion
 * int status = cq.getIntAcquire(head + 8);    // ordered after the phase check
 * }</pre>
 * On x86-64, the only architecture Isthmus supports, stores reach memory in program order and an MMIO store to an
 * uncached BAR is not reordered with earlier stores; the release and volatile accessors add what the JIT needs
 * (it may otherwise reorder, merge or drop plain accesses). No separate fence is needed between DMA memory
 * writes and the doorbell.
 *
 * <p>Offsets are bytes from the start of this memory and must be aligned to the access width (naturally aligned
 * accesses are single, untorn loads and stores); the memory itself starts on an 8-byte boundary. A bad offset
 * throws {@link IllegalArgumentException} or {@link IndexOutOfBoundsException} naming it.
 *
 * <p>Lifetime: a view; valid while the memory is ({@link DmaBuffer#close()} frees it, after which every access
 * throws {@link IllegalStateException}). Thread-safe: a stateless view; ordering between threads follows the
 * accessors' names. Allocates nothing per access.
 */
public final class DmaMemory {
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle SHORT = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private final MemorySegment segment;

    private DmaMemory(MemorySegment segment) {
        this.segment = segment;
    }

    /**
     * A view of {@code segment}, which must start on an 8-byte boundary (a {@link DmaBuffer}'s pages do).
     *
     * @throws IllegalArgumentException when it does not
     */
    public static DmaMemory of(MemorySegment segment) {
        if ((segment.address() & 7) != 0) {
            throw new IllegalArgumentException(String.format("DMA memory must start on an 8-byte boundary so that"
                    + " aligned offsets give aligned accesses; this segment starts at 0x%x", segment.address()));
        }
        return new DmaMemory(segment);
    }

    /** The underlying segment (for bulk APIs; use the accessors here for anything the device writes). */
    public MemorySegment segment() {
        return segment;
    }

    /** Bytes in this view. */
    public long size() {
        return segment.byteSize();
    }

    /**
     * The view of {@code [offset, offset + size)}, e.g. one queue of a larger buffer.
     *
     * @throws IllegalArgumentException when {@code offset} is not a multiple of 8
     * @throws IndexOutOfBoundsException when the range is outside this memory
     */
    public DmaMemory slice(long offset, long size) {
        if ((offset & 7) != 0) {
            throw new IllegalArgumentException("a DMA memory slice must start at a multiple of 8 bytes, got offset "
                    + offset);
        }
        return new DmaMemory(segment.asSlice(offset, size));
    }

    // ---- loads of memory the device may write ----

    public byte getByteVolatile(long offset) {
        return (byte) BYTE.getVolatile(segment, offset);
    }

    public byte getByteAcquire(long offset) {
        return (byte) BYTE.getAcquire(segment, offset);
    }

    public short getShortVolatile(long offset) {
        return (short) SHORT.getVolatile(segment, aligned(offset, 2));
    }

    public short getShortAcquire(long offset) {
        return (short) SHORT.getAcquire(segment, aligned(offset, 2));
    }

    public int getIntVolatile(long offset) {
        return (int) INT.getVolatile(segment, aligned(offset, 4));
    }

    public int getIntAcquire(long offset) {
        return (int) INT.getAcquire(segment, aligned(offset, 4));
    }

    public long getLongVolatile(long offset) {
        return (long) LONG.getVolatile(segment, aligned(offset, 8));
    }

    public long getLongAcquire(long offset) {
        return (long) LONG.getAcquire(segment, aligned(offset, 8));
    }

    /**
     * Copies {@code length} bytes at {@code offset} into {@code dst[dstIndex..]}, every load ordered after every
     * load before this call (an acquire fence, then the copy): read the device's "done" field first, then the
     * data with this.
     */
    public void getBytesAcquire(long offset, byte[] dst, int dstIndex, int length) {
        VarHandle.acquireFence();
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, dst, dstIndex, length);
    }

    // ---- stores ----

    /** A plain store: for memory the device only reads, published by a later release or volatile store. */
    public void putByte(long offset, byte value) {
        BYTE.set(segment, offset, value);
    }

    public void putByteRelease(long offset, byte value) {
        BYTE.setRelease(segment, offset, value);
    }

    public void putByteVolatile(long offset, byte value) {
        BYTE.setVolatile(segment, offset, value);
    }

    /** A plain store: for memory the device only reads, published by a later release or volatile store. */
    public void putShort(long offset, short value) {
        SHORT.set(segment, aligned(offset, 2), value);
    }

    public void putShortRelease(long offset, short value) {
        SHORT.setRelease(segment, aligned(offset, 2), value);
    }

    public void putShortVolatile(long offset, short value) {
        SHORT.setVolatile(segment, aligned(offset, 2), value);
    }

    /** A plain store: for memory the device only reads, published by a later release or volatile store. */
    public void putInt(long offset, int value) {
        INT.set(segment, aligned(offset, 4), value);
    }

    /** A release store: every load and store before it in program order is visible before it. */
    public void putIntRelease(long offset, int value) {
        INT.setRelease(segment, aligned(offset, 4), value);
    }

    public void putIntVolatile(long offset, int value) {
        INT.setVolatile(segment, aligned(offset, 4), value);
    }

    /** A plain store: for memory the device only reads, published by a later release or volatile store. */
    public void putLong(long offset, long value) {
        LONG.set(segment, aligned(offset, 8), value);
    }

    /** A release store: every load and store before it in program order is visible before it. */
    public void putLongRelease(long offset, long value) {
        LONG.setRelease(segment, aligned(offset, 8), value);
    }

    public void putLongVolatile(long offset, long value) {
        LONG.setVolatile(segment, aligned(offset, 8), value);
    }

    /**
     * Plain stores of {@code src[srcIndex..srcIndex + length)} at {@code offset}: for data the device only reads,
     * published by a later release or volatile store (the doorbell).
     */
    public void putBytes(long offset, byte[] src, int srcIndex, int length) {
        MemorySegment.copy(src, srcIndex, segment, ValueLayout.JAVA_BYTE, offset, length);
    }

    /** Plain stores of {@code value} over {@code [offset, offset + length)}, published like {@link #putBytes}. */
    public void fill(long offset, long length, byte value) {
        segment.asSlice(offset, length).fill(value);
    }

    private static long aligned(long offset, int width) {
        if ((offset & (width - 1)) != 0) {
            throw new IllegalArgumentException("offset " + offset + " is not a multiple of " + width + ": a " + width
                    + "-byte DMA access must be naturally aligned (a misaligned one may tear or fault)");
        }
        return offset;
    }

    @Override
    public String toString() {
        return String.format("DmaMemory[0x%x, %d bytes]", segment.address(), segment.byteSize());
    }
}
