package io.isthmus.vmm.machine;

import io.isthmus.kvm.Cpuid;
import io.isthmus.kvm.Kvm;
import io.isthmus.kvm.Lapic;
import io.isthmus.kvm.Regs;
import io.isthmus.kvm.SegmentRegister;
import io.isthmus.kvm.Sregs;
import io.isthmus.kvm.Vcpu;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.EntryHook;
import io.isthmus.kvm.run.ExitDispatcher;
import io.isthmus.kvm.run.ExitHandler;
import io.isthmus.kvm.run.VcpuThread;
import io.isthmus.kvm.x86.CpuModes;
import io.isthmus.vmm.boot.BootState;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntFunction;

/**
 * The machine's vCPUs: made with QEMU's CPUID and LAPIC reset state, put into a loader's entry state, run on one
 * {@link VcpuThread} each, and put back to their reset state on a system reset.
 *
 * <p>Lifetime: the machine's; {@link #close()} stops the threads. Threading: {@link #start}, {@link #stopAll} and the
 * state methods run on the machine's main thread (or under the machine's control lock); {@link #kickBsp},
 * {@link #requestStopAll} and the thread list are safe from any thread.
 */
final class Vcpus implements AutoCloseable {
    /** Where the entry states put their GDT. */
    private static final long GDT_ADDR = 0x500;
    private static final int LVT_MASKED = 1 << 16;
    /** IA32_APIC_BASE after reset: the default address, enabled; BSP is bit 8. */
    private static final long APIC_BASE_RESET = 0xfee00000L | 1 << 11, APIC_BASE_BSP = 1 << 8;

    private final List<Vcpu> vcpus = new ArrayList<>();
    /** Each vCPU's LAPIC in QEMU's reset state (KVM's, LVT0 masked): what a system reset puts back. */
    private final List<Lapic> resetLapics = new ArrayList<>();
    private final List<VcpuThread> threads = new CopyOnWriteArrayList<>();
    private final int[] tids;

    Vcpus(Kvm kvm, Vm vm, int count) {
        Cpuid supported = kvm.supportedCpuid();
        this.tids = new int[count];
        for (int i = 0; i < count; i++) {
            Vcpu c = vm.createVcpu(i);
            c.setCpuid2(cpuidFor(supported, i));
            vcpus.add(c);
            // QEMU's LAPIC reset state (apic_init_reset): every LVT masked. KVM's own leaves the boot vCPU's LINT0
            // as ExtINT (KVM_X86_QUIRK_LINT0_REENABLED), which would let PIC interrupts in where QEMU's do not.
            Lapic reset = c.getLapic().set(Lapic.LVT0, LVT_MASKED);
            c.setLapic(reset);
            resetLapics.add(reset);
        }
    }

    /**
     * CPUID as KVM supports it, with this vCPU's APIC id in leaves 1 and 0xb and, as QEMU sets it, the hypervisor
     * bit (leaf 1 ECX bit 31), without which a guest does not look for KVM's leaves at 0x40000000 (its paravirtual
     * clock, EOI and spinlock features) and believes it runs on bare hardware.
     */
    static Cpuid cpuidFor(Cpuid supported, int id) {
        Cpuid c = Cpuid.copyOf(supported, supported.size());
        int l1 = c.find(1, 0);
        if (l1 >= 0) {
            c.set(l1, c.eax(l1), (c.ebx(l1) & 0x00ffffff) | id << 24, c.ecx(l1) | 1 << 31, c.edx(l1));
        }
        for (int sub = 0; sub < 2; sub++) {
            int lb = c.find(0xb, sub);
            if (lb >= 0) {
                c.set(lb, c.eax(lb), c.ebx(lb), c.ecx(lb), id);
            }
        }
        return c;
    }

    int count() {
        return vcpus.size();
    }

    /** Puts the boot vCPU in the entry state {@code s} asks for (the others wait for the guest's INIT-SIPI). */
    void enter(BootState s, GuestMemory memory) {
        Vcpu bsp = vcpus.get(0);
        switch (s.mode()) {
            case PROTECTED_FLAT -> {
                CpuModes.protectedMode32(bsp, memory, GDT_ADDR, s.rip());
                Regs r = bsp.getRegs();
                bsp.setRegs(r.rax(s.rax()).rbx(s.rbx()).rcx(s.rcx()).rdx(s.rdx()).rsi(s.rsi()).rsp(s.rsp()));
                // CR0 as QEMU's firmware leaves it for Multiboot and PVH: PE | ET, caches on (CD and NW, set at
                // reset, cleared).
                bsp.setSregs(bsp.getSregs().cr0(Sregs.CR0_PE | Sregs.CR0_ET));
            }
            case REAL -> {
                CpuModes.realMode(bsp, s.realModeCs(), (int) s.rip());
                bsp.setRegs(bsp.getRegs().rsp(s.rsp()));
                if (s.realModeDs() != 0) {
                    Sregs sr = bsp.getSregs();
                    sr.dataSegments(SegmentRegister.real(s.realModeDs(), 3));
                    bsp.setSregs(sr);
                }
            }
            case LONG -> {
                long tables = 0x9000 - CpuModes.pageTableBytes(4) - 0x1000;
                CpuModes.longModeWithCpuid(bsp, memory, GDT_ADDR, tables & ~0xfffL, 4, s.rip());
                Regs r = bsp.getRegs();
                bsp.setRegs(r.rsi(s.rsi()).rax(s.rax()).rbx(s.rbx()).rsp(s.rsp()));
            }
        }
    }

    /**
     * Puts every vCPU back to QEMU's reset state for a system reset: APIC base (xAPIC, enabled, BSP flag on vCPU 0),
     * the LAPIC as it was created, the boot vCPU runnable and the others waiting for INIT. The threads have stopped.
     */
    void reset() {
        for (int i = 0; i < vcpus.size(); i++) {
            Vcpu c = vcpus.get(i);
            Sregs sr = c.getSregs().apicBase(APIC_BASE_RESET | (i == 0 ? APIC_BASE_BSP : 0));
            // Paging and long mode off first, as a reset leaves them (CR0's reset value CD | NW | ET, no PAE, EFER 0,
            // CS a real-mode segment): a vCPU that had paging on (a 64-bit guest, Linux) would otherwise get PE
            // cleared with PG still set below, or keep a 64-bit CS without long mode, both of which KVM_SET_SREGS
            // refuses (EINVAL).
            sr.cr0(0x60000010L).cr4(0).efer(0).cs(SegmentRegister.real(0xf000, 0xb));
            // A triple fault on AMD: Linux's kvm_amd (6.1, Debian 12's) rebuilds the VMCB on the shutdown exit
            // but reloads the nested page-table root only if paging was on, so a guest that faulted in protected
            // mode without paging re-enters with no nested root and faults forever on its first fetch (seen in
            // the lab, not under QEMU, whose reset rewrites the nested state). Changing CR0 through
            // KVM_SET_SREGS makes KVM reset the MMU context, reloading the root; it costs nothing elsewhere.
            c.setSregs(sr.cr0(sr.cr0() ^ Sregs.CR0_PE));
            c.setSregs(sr.cr0(sr.cr0() ^ Sregs.CR0_PE));
            c.setLapic(resetLapics.get(i));
        }
    }

    /** After {@link #enter}: a guest reset while halted stays halted in the kernel unless told otherwise. */
    void makeRunnableAfterReset() {
        vcpus.get(0).setMpState(Vcpu.MP_STATE_RUNNABLE);
        for (int i = 1; i < vcpus.size(); i++) {
            vcpus.get(i).setMpState(Vcpu.MP_STATE_UNINITIALIZED);
        }
    }

    /**
     * Starts one thread per vCPU (paused if {@code paused}), replacing the stopped ones; the boot vCPU gets
     * {@code bspHook} before each entry.
     */
    void start(ExitDispatcher dispatcher, IntFunction<ExitHandler> handlers, EntryHook bspHook, boolean paused) {
        List<VcpuThread> started = new ArrayList<>();
        for (Vcpu c : vcpus) {
            started.add(VcpuThread.start(c, dispatcher, handlers.apply(c.id()), c.id() == 0 ? bspHook : null,
                    paused));
        }
        threads.clear();
        threads.addAll(started);
    }

    /** The running threads, boot vCPU first (a snapshot that may be empty before the first start). */
    List<VcpuThread> threads() {
        return threads;
    }

    /** Makes the boot vCPU leave the guest; no-op before it started. */
    void kickBsp() {
        for (VcpuThread bsp : threads) { // one snapshot of the list: start() may replace it meanwhile
            bsp.kick();
            return;
        }
    }

    /** Asks every thread to stop, without waiting (callable from a vCPU thread). */
    void requestStopAll() {
        for (VcpuThread t : threads) {
            t.requestStop();
        }
    }

    /** Stops every thread and waits for each. */
    void stopAll() {
        for (VcpuThread t : threads) {
            t.stop();
        }
    }

    /** Notes vCPU {@code id}'s host thread id (QMP's query-cpus-fast reports it); from that vCPU's thread. */
    void recordTid(int id) {
        if (tids[id] == 0) {
            tids[id] = io.isthmus.sys.Libc.gettid();
        }
    }

    int[] tids() {
        return tids.clone();
    }

    @Override
    public void close() {
        for (VcpuThread t : threads) {
            t.close();
        }
    }
}
