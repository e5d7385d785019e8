package io.isthmus.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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
        this.s = Arena.ofAuto().allocate(KvmAbi.REGS_SIZE, 8);
    }

    /** The native {@code struct kvm_regs}. */
    public MemorySegment segment() {
        return s;
    }

    public long rax() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RAX); }
    public Regs rax(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RAX, v); return this; }
    public long rbx() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RBX); }
    public Regs rbx(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RBX, v); return this; }
    public long rcx() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RCX); }
    public Regs rcx(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RCX, v); return this; }
    public long rdx() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RDX); }
    public Regs rdx(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RDX, v); return this; }
    public long rsi() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RSI); }
    public Regs rsi(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RSI, v); return this; }
    public long rdi() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RDI); }
    public Regs rdi(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RDI, v); return this; }
    public long rsp() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RSP); }
    public Regs rsp(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RSP, v); return this; }
    public long rbp() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RBP); }
    public Regs rbp(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RBP, v); return this; }
    public long r8() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R8); }
    public Regs r8(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R8, v); return this; }
    public long r9() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R9); }
    public Regs r9(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R9, v); return this; }
    public long r10() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R10); }
    public Regs r10(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R10, v); return this; }
    public long r11() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R11); }
    public Regs r11(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R11, v); return this; }
    public long r12() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R12); }
    public Regs r12(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R12, v); return this; }
    public long r13() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R13); }
    public Regs r13(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R13, v); return this; }
    public long r14() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R14); }
    public Regs r14(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R14, v); return this; }
    public long r15() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_R15); }
    public Regs r15(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_R15, v); return this; }
    public long rip() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RIP); }
    public Regs rip(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RIP, v); return this; }
    public long rflags() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.REGS_RFLAGS); }
    public Regs rflags(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.REGS_RFLAGS, v); return this; }

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
