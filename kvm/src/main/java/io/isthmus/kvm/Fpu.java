package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_fpu;

/**
 * The x87/SSE state of a vCPU ({@code struct kvm_fpu}) in native memory. GC-reclaimed; not thread-safe.
 */
public final class Fpu {
    private static final long XMM = kvm_fpu.xmm$offset();
    private final MemorySegment s;

    /** Zeroed state. */
    public Fpu() {
        this.s = Arena.ofAuto().allocate(kvm_fpu.layout());
    }

    /** The native {@code struct kvm_fpu}. */
    public MemorySegment segment() {
        return s;
    }

    public int fcw() { return kvm_fpu.fcw(s) & 0xFFFF; }
    public Fpu fcw(int v) { kvm_fpu.fcw(s, (short) v); return this; }
    public int fsw() { return kvm_fpu.fsw(s) & 0xFFFF; }
    public int mxcsr() { return kvm_fpu.mxcsr(s); }
    public Fpu mxcsr(int v) { kvm_fpu.mxcsr(s, v); return this; }

    /** The low 64 bits of XMM register {@code i} (0–15). */
    public long xmmLow(int i) { return s.get(JAVA_LONG_UNALIGNED, XMM + 16L * i); }
    /** The high 64 bits of XMM register {@code i}. */
    public long xmmHigh(int i) { return s.get(JAVA_LONG_UNALIGNED, XMM + 16L * i + 8); }

    public Fpu xmm(int i, long low, long high) {
        s.set(JAVA_LONG_UNALIGNED, XMM + 16L * i, low);
        s.set(JAVA_LONG_UNALIGNED, XMM + 16L * i + 8, high);
        return this;
    }
}
