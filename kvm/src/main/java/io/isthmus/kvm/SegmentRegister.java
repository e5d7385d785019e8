package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * An x86 segment register as KVM holds it ({@code struct kvm_segment}): the selector and the descriptor cache
 * (base, limit, type and flags) the CPU actually uses. Immutable; safe to share.
 *
 * @param base     linear base address
 * @param limit    limit in bytes (already scaled when {@code g} is set: 0xFFFFFFFF for a flat 4 GiB segment)
 * @param selector the selector value
 * @param type     the 4-bit descriptor type (e.g. 0xB execute/read accessed code, 0x3 read/write accessed data)
 * @param present  P
 * @param dpl      descriptor privilege level
 * @param db       D/B: 32-bit default operand size
 * @param s        S: code or data (as opposed to a system segment)
 * @param l        L: 64-bit code
 * @param g        G: 4 KiB granularity
 * @param avl      AVL
 * @param unusable whether the segment is unusable (a null selector)
 */
public record SegmentRegister(long base, int limit, int selector, int type, boolean present, int dpl, boolean db,
                              boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /** A flat 4 GiB 32-bit code segment (type 0xB) with {@code selector}. */
    public static SegmentRegister code32(int selector) {
        return new SegmentRegister(0, 0xFFFF_FFFF, selector, 0xB, true, 0, true, true, false, true, false, false);
    }

    /** A 64-bit code segment (L set, D/B clear) with {@code selector}. */
    public static SegmentRegister code64(int selector) {
        return new SegmentRegister(0, 0xFFFF_FFFF, selector, 0xB, true, 0, false, true, true, true, false, false);
    }

    /** A flat 4 GiB read/write data segment (type 0x3) with {@code selector}. */
    public static SegmentRegister data32(int selector) {
        return new SegmentRegister(0, 0xFFFF_FFFF, selector, 0x3, true, 0, true, true, false, true, false, false);
    }

    /** A real-mode segment: base {@code selector << 4}, 64 KiB limit. */
    public static SegmentRegister real(int selector, int type) {
        return new SegmentRegister((long) selector << 4, 0xFFFF, selector, type, true, 0, false, true, false, false,
                false, false);
    }

    /** The 8-byte GDT descriptor encoding this segment. */
    public long toGdtEntry() {
        long lim = g ? (limit & 0xFFFF_FFFFL) >>> 12 : limit & 0xFFFFF;
        long flags = (type & 0xF) | (s ? 0x10 : 0) | ((dpl & 3L) << 5) | (present ? 0x80 : 0)
                | (avl ? 0x1000 : 0) | (l ? 0x2000 : 0) | (db ? 0x4000 : 0) | (g ? 0x8000 : 0);
        return (lim & 0xFFFF) | ((base & 0xFF_FFFFL) << 16) | ((flags & 0xFF) << 40) | (((lim >>> 16) & 0xF) << 48)
                | (((flags >>> 12) & 0xF) << 52) | (((base >>> 24) & 0xFF) << 56);
    }

    /** Reads the {@code struct kvm_segment} at {@code at} in {@code k}. */
    static SegmentRegister read(MemorySegment k, long at) {
        return new SegmentRegister(k.get(JAVA_LONG, at + KvmAbi.SEGMENT_BASE), k.get(JAVA_INT, at + KvmAbi.SEGMENT_LIMIT),
                k.get(JAVA_SHORT, at + KvmAbi.SEGMENT_SELECTOR) & 0xFFFF, k.get(JAVA_BYTE, at + KvmAbi.SEGMENT_TYPE),
                flag(k, at + KvmAbi.SEGMENT_PRESENT), k.get(JAVA_BYTE, at + KvmAbi.SEGMENT_DPL),
                flag(k, at + KvmAbi.SEGMENT_DB), flag(k, at + KvmAbi.SEGMENT_S), flag(k, at + KvmAbi.SEGMENT_L),
                flag(k, at + KvmAbi.SEGMENT_G), flag(k, at + KvmAbi.SEGMENT_AVL),
                flag(k, at + KvmAbi.SEGMENT_UNUSABLE));
    }

    private static boolean flag(MemorySegment k, long at) {
        return k.get(JAVA_BYTE, at) != 0;
    }

    /** Writes this register as the {@code struct kvm_segment} at {@code at} in {@code k}. */
    void write(MemorySegment k, long at) {
        k.set(JAVA_LONG, at + KvmAbi.SEGMENT_BASE, base);
        k.set(JAVA_INT, at + KvmAbi.SEGMENT_LIMIT, limit);
        k.set(JAVA_SHORT, at + KvmAbi.SEGMENT_SELECTOR, (short) selector);
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_TYPE, (byte) type);
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_PRESENT, (byte) (present ? 1 : 0));
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_DPL, (byte) dpl);
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_DB, (byte) (db ? 1 : 0));
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_S, (byte) (s ? 1 : 0));
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_L, (byte) (l ? 1 : 0));
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_G, (byte) (g ? 1 : 0));
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_AVL, (byte) (avl ? 1 : 0));
        k.set(JAVA_BYTE, at + KvmAbi.SEGMENT_UNUSABLE, (byte) (unusable ? 1 : 0));
    }
}
