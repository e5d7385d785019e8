package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A vCPU's in-kernel local APIC register page ({@code struct kvm_lapic_state}, 1 KiB), as read by
 * {@link Vcpu#getLapic()}. Registers are addressed by their MMIO offset ({@link #ID}, {@link #LVT0}, …).
 * GC-reclaimed; not thread-safe.
 */
public final class Lapic {
    public static final int ID = 0x20, VERSION = 0x30, TPR = 0x80, EOI = 0xB0, LDR = 0xD0, DFR = 0xE0,
            SPURIOUS = 0xF0, ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT0 = 0x350, LVT1 = 0x360,
            LVT_ERROR = 0x370, TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3E0;

    private final MemorySegment s;

    /** A zeroed register page. */
    public Lapic() {
        this.s = Arena.ofAuto().allocate(KvmAbi.LAPIC_STATE_SIZE, 8);
    }

    /** The native {@code struct kvm_lapic_state}. */
    public MemorySegment segment() {
        return s;
    }

    /** The 32-bit register at {@code offset}. */
    public int get(int offset) {
        return s.get(JAVA_INT_UNALIGNED, offset);
    }

    /** Sets the 32-bit register at {@code offset} (takes effect with {@link Vcpu#setLapic}). */
    public Lapic set(int offset, int value) {
        s.set(JAVA_INT_UNALIGNED, offset, value);
        return this;
    }
}
