package io.isthmus.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_dtable;
import io.isthmus.bindings.kvm.kvm_sregs;

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
        this.s = Arena.ofAuto().allocate(kvm_sregs.layout());
    }

    /** The native {@code struct kvm_sregs}. */
    public MemorySegment segment() {
        return s;
    }

    public SegmentRegister cs() { return SegmentRegister.read(kvm_sregs.cs(s)); }
    public Sregs cs(SegmentRegister r) { r.write(kvm_sregs.cs(s)); return this; }
    public SegmentRegister ds() { return SegmentRegister.read(kvm_sregs.ds(s)); }
    public Sregs ds(SegmentRegister r) { r.write(kvm_sregs.ds(s)); return this; }
    public SegmentRegister es() { return SegmentRegister.read(kvm_sregs.es(s)); }
    public Sregs es(SegmentRegister r) { r.write(kvm_sregs.es(s)); return this; }
    public SegmentRegister fs() { return SegmentRegister.read(kvm_sregs.fs(s)); }
    public Sregs fs(SegmentRegister r) { r.write(kvm_sregs.fs(s)); return this; }
    public SegmentRegister gs() { return SegmentRegister.read(kvm_sregs.gs(s)); }
    public Sregs gs(SegmentRegister r) { r.write(kvm_sregs.gs(s)); return this; }
    public SegmentRegister ss() { return SegmentRegister.read(kvm_sregs.ss(s)); }
    public Sregs ss(SegmentRegister r) { r.write(kvm_sregs.ss(s)); return this; }
    public SegmentRegister tr() { return SegmentRegister.read(kvm_sregs.tr(s)); }
    public Sregs tr(SegmentRegister r) { r.write(kvm_sregs.tr(s)); return this; }
    public SegmentRegister ldt() { return SegmentRegister.read(kvm_sregs.ldt(s)); }
    public Sregs ldt(SegmentRegister r) { r.write(kvm_sregs.ldt(s)); return this; }

    /** Sets DS, ES, FS, GS and SS to {@code r}. */
    public Sregs dataSegments(SegmentRegister r) {
        return ds(r).es(r).fs(r).gs(r).ss(r);
    }

    public long gdtBase() { return kvm_dtable.base(kvm_sregs.gdt(s)); }
    public int gdtLimit() { return kvm_dtable.limit(kvm_sregs.gdt(s)) & 0xFFFF; }
    public Sregs gdt(long base, int limit) {
        MemorySegment t = kvm_sregs.gdt(s);
        kvm_dtable.base(t, base);
        kvm_dtable.limit(t, (short) limit);
        return this;
    }
    public long idtBase() { return kvm_dtable.base(kvm_sregs.idt(s)); }
    public int idtLimit() { return kvm_dtable.limit(kvm_sregs.idt(s)) & 0xFFFF; }
    public Sregs idt(long base, int limit) {
        MemorySegment t = kvm_sregs.idt(s);
        kvm_dtable.base(t, base);
        kvm_dtable.limit(t, (short) limit);
        return this;
    }

    public long cr0() { return kvm_sregs.cr0(s); }
    public Sregs cr0(long v) { kvm_sregs.cr0(s, v); return this; }
    public long cr2() { return kvm_sregs.cr2(s); }
    public Sregs cr2(long v) { kvm_sregs.cr2(s, v); return this; }
    public long cr3() { return kvm_sregs.cr3(s); }
    public Sregs cr3(long v) { kvm_sregs.cr3(s, v); return this; }
    public long cr4() { return kvm_sregs.cr4(s); }
    public Sregs cr4(long v) { kvm_sregs.cr4(s, v); return this; }
    public long cr8() { return kvm_sregs.cr8(s); }
    public Sregs cr8(long v) { kvm_sregs.cr8(s, v); return this; }
    public long efer() { return kvm_sregs.efer(s); }
    public Sregs efer(long v) { kvm_sregs.efer(s, v); return this; }
    public long apicBase() { return kvm_sregs.apic_base(s); }
    public Sregs apicBase(long v) { kvm_sregs.apic_base(s, v); return this; }

    @Override
    public String toString() {
        return String.format("cr0=%x cr3=%x cr4=%x efer=%x cs=%s gdt=%x/%x", cr0(), cr3(), cr4(), efer(), cs(),
                gdtBase(), gdtLimit());
    }
}
