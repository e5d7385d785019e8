package io.isthmus.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The special registers of a vCPU ({@code struct kvm_sregs}): segment registers, descriptor tables, control
 * registers and EFER, in native memory passed to the kernel as is.
 *
 * <p>Reusable and GC-reclaimed like {@link Regs}. Not thread-safe.
 */
public final class Sregs {
    /** CR0 bits. */
    public static final long CR0_PE = 1L, CR0_MP = 1L << 1, CR0_ET = 1L << 4, CR0_NE = 1L << 5, CR0_WP = 1L << 16,
            CR0_AM = 1L << 18, CR0_PG = 1L << 31;
    /** CR4 bits. */
    public static final long CR4_PSE = 1L << 4, CR4_PAE = 1L << 5, CR4_PGE = 1L << 7, CR4_OSFXSR = 1L << 9,
            CR4_OSXMMEXCPT = 1L << 10;
    /** EFER bits. */
    public static final long EFER_SCE = 1L, EFER_LME = 1L << 8, EFER_LMA = 1L << 10, EFER_NXE = 1L << 11;

    private final MemorySegment s;

    /** Zeroed special registers; usually {@link Vcpu#getSregs()} is the starting point instead. */
    public Sregs() {
        this.s = Arena.ofAuto().allocate(KvmAbi.SREGS_SIZE, 8);
    }

    /** The native {@code struct kvm_sregs}. */
    public MemorySegment segment() {
        return s;
    }

    public SegmentRegister cs() { return SegmentRegister.read(s, KvmAbi.SREGS_CS); }
    public Sregs cs(SegmentRegister r) { r.write(s, KvmAbi.SREGS_CS); return this; }
    public SegmentRegister ds() { return SegmentRegister.read(s, KvmAbi.SREGS_DS); }
    public Sregs ds(SegmentRegister r) { r.write(s, KvmAbi.SREGS_DS); return this; }
    public SegmentRegister es() { return SegmentRegister.read(s, KvmAbi.SREGS_ES); }
    public Sregs es(SegmentRegister r) { r.write(s, KvmAbi.SREGS_ES); return this; }
    public SegmentRegister fs() { return SegmentRegister.read(s, KvmAbi.SREGS_FS); }
    public Sregs fs(SegmentRegister r) { r.write(s, KvmAbi.SREGS_FS); return this; }
    public SegmentRegister gs() { return SegmentRegister.read(s, KvmAbi.SREGS_GS); }
    public Sregs gs(SegmentRegister r) { r.write(s, KvmAbi.SREGS_GS); return this; }
    public SegmentRegister ss() { return SegmentRegister.read(s, KvmAbi.SREGS_SS); }
    public Sregs ss(SegmentRegister r) { r.write(s, KvmAbi.SREGS_SS); return this; }
    public SegmentRegister tr() { return SegmentRegister.read(s, KvmAbi.SREGS_TR); }
    public Sregs tr(SegmentRegister r) { r.write(s, KvmAbi.SREGS_TR); return this; }
    public SegmentRegister ldt() { return SegmentRegister.read(s, KvmAbi.SREGS_LDT); }
    public Sregs ldt(SegmentRegister r) { r.write(s, KvmAbi.SREGS_LDT); return this; }

    /** Sets DS, ES, FS, GS and SS to {@code r}. */
    public Sregs dataSegments(SegmentRegister r) {
        return ds(r).es(r).fs(r).gs(r).ss(r);
    }

    public long gdtBase() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_GDT + KvmAbi.DTABLE_BASE); }
    public int gdtLimit() { return s.get(ValueLayout.JAVA_SHORT, KvmAbi.SREGS_GDT + KvmAbi.DTABLE_LIMIT) & 0xFFFF; }
    public Sregs gdt(long base, int limit) {
        s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_GDT + KvmAbi.DTABLE_BASE, base);
        s.set(ValueLayout.JAVA_SHORT, KvmAbi.SREGS_GDT + KvmAbi.DTABLE_LIMIT, (short) limit);
        return this;
    }
    public long idtBase() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_IDT + KvmAbi.DTABLE_BASE); }
    public int idtLimit() { return s.get(ValueLayout.JAVA_SHORT, KvmAbi.SREGS_IDT + KvmAbi.DTABLE_LIMIT) & 0xFFFF; }
    public Sregs idt(long base, int limit) {
        s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_IDT + KvmAbi.DTABLE_BASE, base);
        s.set(ValueLayout.JAVA_SHORT, KvmAbi.SREGS_IDT + KvmAbi.DTABLE_LIMIT, (short) limit);
        return this;
    }

    public long cr0() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR0); }
    public Sregs cr0(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR0, v); return this; }
    public long cr2() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR2); }
    public Sregs cr2(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR2, v); return this; }
    public long cr3() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR3); }
    public Sregs cr3(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR3, v); return this; }
    public long cr4() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR4); }
    public Sregs cr4(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR4, v); return this; }
    public long cr8() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR8); }
    public Sregs cr8(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_CR8, v); return this; }
    public long efer() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_EFER); }
    public Sregs efer(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_EFER, v); return this; }
    public long apicBase() { return s.get(ValueLayout.JAVA_LONG, KvmAbi.SREGS_APIC_BASE); }
    public Sregs apicBase(long v) { s.set(ValueLayout.JAVA_LONG, KvmAbi.SREGS_APIC_BASE, v); return this; }

    @Override
    public String toString() {
        return String.format("cr0=%x cr3=%x cr4=%x efer=%x cs=%s gdt=%x/%x", cr0(), cr3(), cr4(), efer(), cs(),
                gdtBase(), gdtLimit());
    }
}
