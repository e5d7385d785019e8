package io.isthmus.kvm.x86;

import io.isthmus.kvm.Regs;
import io.isthmus.kvm.SegmentRegister;
import io.isthmus.kvm.Sregs;
import io.isthmus.kvm.Vcpu;
import io.isthmus.kvm.memory.GuestMemory;

/**
 * Puts a vCPU into the execution mode a loader needs: 16-bit real mode, 32-bit flat protected mode, or 64-bit
 * long mode on identity-mapped page tables. Each helper writes what the mode needs into guest memory (GDT, page
 * tables) at addresses the caller picks, then sets the special and general registers.
 *
 * <p>The GDT it writes: {@code 0x00} null, {@link #CODE32} flat 32-bit code, {@link #DATA} flat data,
 * {@link #CODE64} 64-bit code, so a guest that reloads its segments finds the same descriptors KVM holds.
 *
 * <p>Stateless; call with the vCPU paused or not yet running.
 */
public final class CpuModes {
    /** Selectors in the GDT these helpers write. */
    public static final int CODE32 = 0x08, DATA = 0x10, CODE64 = 0x18;
    /** Bytes of the GDT these helpers write. */
    public static final int GDT_SIZE = 32;
    /** Page-table bits. */
    static final long PRESENT = 1, WRITABLE = 2, HUGE = 1L << 7;
    private static final long RFLAGS_RESERVED = 2;

    private CpuModes() {}

    /**
     * Real mode at {@code cs:ip}: every data segment = {@code cs}, paging and protection off, flags cleared.
     * On Intel hosts without unrestricted-guest support KVM also needs {@code Vm.setTssAddr} first.
     */
    public static void realMode(Vcpu vcpu, int cs, int ip) {
        Sregs s = vcpu.getSregs();
        SegmentRegister code = SegmentRegister.real(cs, 0xB);
        s.cs(code).dataSegments(SegmentRegister.real(cs, 0x3));
        s.cr0(s.cr0() & ~(Sregs.CR0_PE | Sregs.CR0_PG)).cr4(0).efer(0);
        vcpu.setSregs(s);
        vcpu.setRegs(new Regs().rip(ip & 0xFFFF).rflags(RFLAGS_RESERVED));
    }

    /** Writes the helpers' GDT (null, 32-bit code, data, 64-bit code) at guest-physical {@code address}. */
    public static void writeGdt(GuestMemory memory, long address) {
        memory.writeLong(address, 0);
        memory.writeLong(address + CODE32, SegmentRegister.code32(CODE32).toGdtEntry() | (1L << 40)); // accessed
        memory.writeLong(address + DATA, SegmentRegister.data32(DATA).toGdtEntry() | (1L << 40));
        memory.writeLong(address + CODE64, SegmentRegister.code64(CODE64).toGdtEntry() | (1L << 40));
    }

    /**
     * 32-bit flat protected mode, paging off: CS = {@link #CODE32}, data segments = {@link #DATA}, both base 0 and
     * limit 4 GiB, the GDT written at {@code gdtAddress}, execution starting at {@code entry}.
     */
    public static void protectedMode32(Vcpu vcpu, GuestMemory memory, long gdtAddress, long entry) {
        writeGdt(memory, gdtAddress);
        Sregs s = vcpu.getSregs();
        s.gdt(gdtAddress, GDT_SIZE - 1);
        s.cs(SegmentRegister.code32(CODE32)).dataSegments(SegmentRegister.data32(DATA));
        s.cr0((s.cr0() | Sregs.CR0_PE | Sregs.CR0_ET) & ~Sregs.CR0_PG).cr4(0).efer(0);
        vcpu.setSregs(s);
        vcpu.setRegs(new Regs().rip(entry).rflags(RFLAGS_RESERVED));
    }

    /**
     * Bytes of page tables {@link #writeIdentityPageTables} writes to map {@code gib} GiB: a PML4, a PDPT and one
     * page directory per GiB.
     */
    public static long pageTableBytes(int gib) {
        return 4096L * (2 + gib);
    }

    /**
     * Writes 4-level page tables at {@code address} (4 KiB-aligned) that identity-map the first {@code gib} GiB
     * (1 to 512) with 2 MiB pages, read/write, supervisor. Returns the CR3 value ({@code address}).
     */
    public static long writeIdentityPageTables(GuestMemory memory, long address, int gib) {
        if ((address & 0xFFF) != 0 || gib < 1 || gib > 512) {
            throw new IllegalArgumentException(String.format(
                    "page tables at 0x%x for %d GiB: need a 4 KiB-aligned address and 1 to 512 GiB", address, gib));
        }
        long pml4 = address, pdpt = address + 4096, pd = address + 8192;
        memory.write(address, new byte[(int) pageTableBytes(gib)]);
        memory.writeLong(pml4, pdpt | PRESENT | WRITABLE);
        for (int g = 0; g < gib; g++) {
            long dir = pd + 4096L * g;
            memory.writeLong(pdpt + 8L * g, dir | PRESENT | WRITABLE);
            for (int i = 0; i < 512; i++) {
                long phys = ((long) g << 30) | ((long) i << 21);
                memory.writeLong(dir + 8L * i, phys | PRESENT | WRITABLE | HUGE);
            }
        }
        return pml4;
    }

    /**
     * 64-bit long mode with paging on identity-mapped tables: sets the vCPU's CPUID to what KVM supports (KVM
     * refuses EFER.LME unless the guest's CPUID has long mode), writes the GDT at {@code gdtAddress} and page
     * tables for the first {@code gib} GiB at {@code tablesAddress}, and starts at {@code entry} with CS =
     * {@link #CODE64}.
     */
    public static void longMode(Vcpu vcpu, GuestMemory memory, long gdtAddress, long tablesAddress, int gib,
                                long entry) {
        vcpu.setCpuid2(vcpu.vm().kvm().supportedCpuid());
        longModeWithCpuid(vcpu, memory, gdtAddress, tablesAddress, gib, entry);
    }

    /**
     * As {@link #longMode}, for a vCPU whose CPUID the caller has already set (with long mode in it): a VMM that
     * gives each vCPU its own table, and must give the same one again after a reset (KVM refuses a different
     * table once the vCPU has run).
     */
    public static void longModeWithCpuid(Vcpu vcpu, GuestMemory memory, long gdtAddress, long tablesAddress,
                                         int gib, long entry) {
        writeGdt(memory, gdtAddress);
        long cr3 = writeIdentityPageTables(memory, tablesAddress, gib);
        Sregs s = vcpu.getSregs();
        s.gdt(gdtAddress, GDT_SIZE - 1);
        s.cs(SegmentRegister.code64(CODE64)).dataSegments(SegmentRegister.data32(DATA));
        s.cr3(cr3).cr4(Sregs.CR4_PAE).cr0(Sregs.CR0_PE | Sregs.CR0_ET | Sregs.CR0_PG | Sregs.CR0_NE)
                .efer(Sregs.EFER_LME | Sregs.EFER_LMA);
        vcpu.setSregs(s);
        vcpu.setRegs(new Regs().rip(entry).rflags(RFLAGS_RESERVED));
    }
}
