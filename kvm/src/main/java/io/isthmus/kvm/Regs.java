package io.isthmus.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_regs;

/**
 * The general-purpose registers of a vCPU ({@code struct kvm_regs}), held in native memory so that
 * {@link Vcpu#getRegs(Regs)} and {@link Vcpu#setRegs(Regs)} pass it to the kernel without copying.
 *
 * <p>Reusable: one instance can be filled and written back any number of times without allocating. Its memory is
 * reclaimed by the garbage collector. Not thread-safe.
 */
public final class Regs {
    private final MemorySegment s;

    /** Zeroed registers. */
    public Regs() {
        this.s = Arena.ofAuto().allocate(kvm_regs.layout());
    }

    /** The native {@code struct kvm_regs}. */
    public MemorySegment segment() {
        return s;
    }

    public long rax() { return kvm_regs.rax(s); }
    public Regs rax(long v) { kvm_regs.rax(s, v); return this; }
    public long rbx() { return kvm_regs.rbx(s); }
    public Regs rbx(long v) { kvm_regs.rbx(s, v); return this; }
    public long rcx() { return kvm_regs.rcx(s); }
    public Regs rcx(long v) { kvm_regs.rcx(s, v); return this; }
    public long rdx() { return kvm_regs.rdx(s); }
    public Regs rdx(long v) { kvm_regs.rdx(s, v); return this; }
    public long rsi() { return kvm_regs.rsi(s); }
    public Regs rsi(long v) { kvm_regs.rsi(s, v); return this; }
    public long rdi() { return kvm_regs.rdi(s); }
    public Regs rdi(long v) { kvm_regs.rdi(s, v); return this; }
    public long rsp() { return kvm_regs.rsp(s); }
    public Regs rsp(long v) { kvm_regs.rsp(s, v); return this; }
    public long rbp() { return kvm_regs.rbp(s); }
    public Regs rbp(long v) { kvm_regs.rbp(s, v); return this; }
    public long r8() { return kvm_regs.r8(s); }
    public Regs r8(long v) { kvm_regs.r8(s, v); return this; }
    public long r9() { return kvm_regs.r9(s); }
    public Regs r9(long v) { kvm_regs.r9(s, v); return this; }
    public long r10() { return kvm_regs.r10(s); }
    public Regs r10(long v) { kvm_regs.r10(s, v); return this; }
    public long r11() { return kvm_regs.r11(s); }
    public Regs r11(long v) { kvm_regs.r11(s, v); return this; }
    public long r12() { return kvm_regs.r12(s); }
    public Regs r12(long v) { kvm_regs.r12(s, v); return this; }
    public long r13() { return kvm_regs.r13(s); }
    public Regs r13(long v) { kvm_regs.r13(s, v); return this; }
    public long r14() { return kvm_regs.r14(s); }
    public Regs r14(long v) { kvm_regs.r14(s, v); return this; }
    public long r15() { return kvm_regs.r15(s); }
    public Regs r15(long v) { kvm_regs.r15(s, v); return this; }
    public long rip() { return kvm_regs.rip(s); }
    public Regs rip(long v) { kvm_regs.rip(s, v); return this; }
    public long rflags() { return kvm_regs.rflags(s); }
    public Regs rflags(long v) { kvm_regs.rflags(s, v); return this; }

    /** A copy of these registers in new memory. */
    public Regs copy() {
        Regs r = new Regs();
        r.s.copyFrom(s);
        return r;
    }

    @Override
    public String toString() {
        return String.format("rip=%x rflags=%x rax=%x rbx=%x rcx=%x rdx=%x rsi=%x rdi=%x rsp=%x rbp=%x r8=%x r9=%x"
                        + " r10=%x r11=%x r12=%x r13=%x r14=%x r15=%x", rip(), rflags(), rax(), rbx(), rcx(), rdx(),
                rsi(), rdi(), rsp(), rbp(), r8(), r9(), r10(), r11(), r12(), r13(), r14(), r15());
    }
}
