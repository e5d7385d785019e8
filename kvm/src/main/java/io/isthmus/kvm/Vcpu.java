package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_msr_entry;
import io.isthmus.bindings.kvm.kvm_msrs;
import io.isthmus.sys.Fd;
import io.isthmus.sys.KvmIoctl;
import io.isthmus.sys.Libc;
import io.isthmus.sys.Mmap;
import io.isthmus.sys.NativeException;

/**
 * A virtual CPU: its registers and state ioctls, and {@code KVM_RUN} over its mmap'd {@link KvmRun} page. Made by
 * {@link Vm#createVcpu(int)}.
 *
 * <p>Lifetime: until {@link #close()} (or its VM's close), which unmaps {@code kvm_run} and closes the descriptor
 * once. The {@link #run()} flyweight and the page become unusable then, so stop the thread running this vCPU
 * first.
 *
 * <p>Threading: KVM serializes vCPU ioctls, and a thread inside {@code KVM_RUN} holds the vCPU, so register
 * calls from other threads wait until the guest exits. The intended model is one thread running the vCPU
 * ({@link io.isthmus.kvm.run.VcpuThread}), which other threads pause before touching registers.
 */
public final class Vcpu implements AutoCloseable {
    private final Vm vm;
    private final int id;
    private final Fd fd;
    private final Arena arena;
    private final KvmRun run;
    private final MemorySegment interruptArg; // struct kvm_interrupt, reused: injection must not allocate
    private volatile AutoCloseable runner;

    private Vcpu(Vm vm, int id, Fd fd, Arena arena, MemorySegment page) {
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        this.arena = arena;
        this.run = new KvmRun(page);
        this.interruptArg = arena.allocate(KvmAbi.INTERRUPT_SIZE, 4);
    }

    static Vcpu create(Vm vm, int id, int rawFd, int mmapSize) {
        Fd fd = Fd.adopt(rawFd, "kvm-vcpu " + id);
        Arena arena = Arena.ofShared();
        try {
            MemorySegment page = Mmap.map(arena, fd, 0, mmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED,
                    "kvm_run of vCPU " + id);
            return new Vcpu(vm, id, fd, arena, page);
        } catch (RuntimeException e) {
            arena.close();
            fd.close();
            throw e;
        }
    }

    /** The VM this vCPU belongs to. */
    public Vm vm() {
        return vm;
    }

    /** The vCPU id given at creation (the initial APIC id). */
    public int id() {
        return id;
    }

    /** The vCPU descriptor. */
    public Fd fd() {
        return fd;
    }

    /** The flyweight over this vCPU's {@code kvm_run} page, valid until close. */
    public KvmRun run() {
        return run;
    }

    // ---- KVM_RUN ----

    /**
     * {@code KVM_RUN}: enters the guest until the next exit to user space. Returns 0, or {@code -errno}
     * ({@code -EINTR} when a signal or {@code immediate_exit} interrupted it, {@code -EAGAIN} when it should simply
     * be retried). Allocates nothing and never throws: the hot path.
     */
    public int runRaw() {
        return Libc.ioctlRaw(fd.get(), KvmIoctl.KVM_RUN, 0L);
    }

    /**
     * {@code KVM_RUN} as a throwing call: returns the exit reason, or {@link KvmRun#EXIT_INTR} when interrupted.
     *
     * @throws NativeException for any other failure (e.g. {@code EFAULT} when guest memory is unbacked)
     */
    public int runOnce() {
        int r = runRaw();
        if (r == -io.isthmus.sys.Errno.EINTR || r == -io.isthmus.sys.Errno.EAGAIN) {
            return KvmRun.EXIT_INTR;
        }
        if (r < 0) {
            throw new NativeException(fd.describe(KvmIoctl.KVM_RUN), -r);
        }
        return run.exitReason();
    }

    /**
     * {@code KVM_SET_SIGNAL_MASK}: the signal mask in force while this vCPU is inside {@code KVM_RUN}, as the
     * kernel's 64-bit {@code sigset_t} (bit {@code n-1} = signal {@code n}). {@code struct kvm_signal_mask} takes
     * the kernel's 8-byte set, not the C library's 128-byte one.
     */
    public void setSignalMask(long kernelSigset) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(KvmAbi.SIGNAL_MASK_SIZE + 8, 8);
            m.set(java.lang.foreign.ValueLayout.JAVA_INT, KvmAbi.SIGNAL_MASK_LEN, 8);
            m.set(JAVA_LONG_UNALIGNED, KvmAbi.SIGNAL_MASK_SIZE, kernelSigset);
            fd.ioctl(KvmIoctl.KVM_SET_SIGNAL_MASK, m);
        }
    }

    /**
     * {@code KVM_INTERRUPT}: queues external interrupt {@code vector} for injection at the next entry, as an 8259
     * PIC's INTA cycle delivers it. With a split irqchip only (the user-space PIC's path to the LAPIC's ExtINT);
     * call it on the vCPU's own thread between runs, when {@link KvmRun#readyForInterruptInjection()} says the
     * guest can take it. Raw form, allocation-free: returns 0 or {@code -errno} ({@code -EEXIST} while one is
     * still pending).
     */
    public int interruptRaw(int vector) {
        interruptArg.set(java.lang.foreign.ValueLayout.JAVA_INT, KvmAbi.INTERRUPT_IRQ, vector);
        return Libc.ioctlRaw(fd.get(), KvmIoctl.KVM_INTERRUPT, interruptArg);
    }

    // ---- registers ----

    /** {@code KVM_GET_REGS} into {@code into}, allocating nothing; returns it. */
    public Regs getRegs(Regs into) {
        fd.ioctl(KvmIoctl.KVM_GET_REGS, into.segment());
        return into;
    }

    /** {@code KVM_GET_REGS} into new {@link Regs}. */
    public Regs getRegs() {
        return getRegs(new Regs());
    }

    /** {@code KVM_SET_REGS}. */
    public void setRegs(Regs regs) {
        fd.ioctl(KvmIoctl.KVM_SET_REGS, regs.segment());
    }

    /** {@code KVM_GET_SREGS} into {@code into}; returns it. */
    public Sregs getSregs(Sregs into) {
        fd.ioctl(KvmIoctl.KVM_GET_SREGS, into.segment());
        return into;
    }

    /** {@code KVM_GET_SREGS} into new {@link Sregs}. */
    public Sregs getSregs() {
        return getSregs(new Sregs());
    }

    /**
     * {@code KVM_SET_SREGS}.
     *
     * @throws NativeException {@code EINVAL} when KVM rejects the state (e.g. EFER.LME without long mode in the
     *                         vCPU's CPUID, or CR0.PG without CR0.PE)
     */
    public void setSregs(Sregs sregs) {
        fd.ioctl(KvmIoctl.KVM_SET_SREGS, sregs.segment());
    }

    /** {@code KVM_GET_FPU}. */
    public Fpu getFpu() {
        Fpu f = new Fpu();
        fd.ioctl(KvmIoctl.KVM_GET_FPU, f.segment());
        return f;
    }

    /** {@code KVM_SET_FPU}. */
    public void setFpu(Fpu fpu) {
        fd.ioctl(KvmIoctl.KVM_SET_FPU, fpu.segment());
    }

    /**
     * {@code KVM_GET_MSRS} for {@code indices}; returns their values in the same order.
     *
     * @throws NativeException naming the first MSR KVM could not read, with {@code EINVAL}
     */
    public long[] getMsrs(int... indices) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = msrs(a, indices, null);
            int n = fd.ioctl(KvmIoctl.KVM_GET_MSRS, m);
            if (n < indices.length) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_GET_MSRS) + String.format(" (MSR 0x%x)",
                        indices[n]), io.isthmus.sys.Errno.EINVAL);
            }
            long[] out = new long[indices.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = kvm_msr_entry.data(kvm_msr_entry.asSlice(m.asSlice(kvm_msrs.sizeof()), i));
            }
            return out;
        }
    }

    /** The value of MSR {@code index}. */
    public long getMsr(int index) {
        return getMsrs(index)[0];
    }

    /**
     * {@code KVM_SET_MSRS}: sets {@code indices[i]} to {@code values[i]}.
     *
     * @throws NativeException naming the first MSR KVM rejected, with {@code EINVAL}
     */
    public void setMsrs(int[] indices, long[] values) {
        if (indices.length != values.length) {
            throw new IllegalArgumentException(indices.length + " MSR indices but " + values.length + " values");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = msrs(a, indices, values);
            int n = fd.ioctl(KvmIoctl.KVM_SET_MSRS, m);
            if (n < indices.length) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_SET_MSRS) + String.format(
                        " (MSR 0x%x = 0x%x rejected)", indices[n], values[n]), io.isthmus.sys.Errno.EINVAL);
            }
        }
    }

    /** Sets MSR {@code index} to {@code value}. */
    public void setMsr(int index, long value) {
        setMsrs(new int[] {index}, new long[] {value});
    }

    private static MemorySegment msrs(Arena a, int[] indices, long[] values) {
        MemorySegment m = a.allocate(kvm_msrs.sizeof() + kvm_msr_entry.sizeof() * indices.length, 8);
        kvm_msrs.nmsrs(m, indices.length);
        MemorySegment entries = m.asSlice(kvm_msrs.sizeof());
        for (int i = 0; i < indices.length; i++) {
            MemorySegment e = kvm_msr_entry.asSlice(entries, i);
            kvm_msr_entry.index(e, indices[i]);
            if (values != null) {
                kvm_msr_entry.data(e, values[i]);
            }
        }
        return m;
    }

    /** {@code KVM_SET_CPUID2}: what CPUID returns in the guest; before the first {@code KVM_RUN}. */
    public void setCpuid2(Cpuid cpuid) {
        fd.ioctl(KvmIoctl.KVM_SET_CPUID2, cpuid.segment());
    }

    /** {@code KVM_GET_CPUID2}: the table set with {@link #setCpuid2}. */
    public Cpuid getCpuid2() {
        for (int capacity = 64; ; capacity *= 2) {
            Cpuid c = new Cpuid(capacity);
            // Linux before 6.6 (Debian 12's 6.1 among them) leaves nent as given when the call succeeds, so the
            // table's length is found from the entries the kernel did not write: they keep this filler.
            c.fillUnusedEntries();
            int r = Libc.ioctl(fd.get(), KvmIoctl.KVM_GET_CPUID2, c.segment());
            if (r >= 0) {
                c.trimUnusedEntries();
                return c;
            }
            if (-r != io.isthmus.sys.Errno.E2BIG || capacity > 4096) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_GET_CPUID2), -r);
            }
        }
    }

    /** {@code KVM_GET_LAPIC}: needs the in-kernel irqchip. */
    public Lapic getLapic() {
        Lapic l = new Lapic();
        fd.ioctl(KvmIoctl.KVM_GET_LAPIC, l.segment());
        return l;
    }

    /** {@code KVM_SET_LAPIC}. */
    public void setLapic(Lapic lapic) {
        fd.ioctl(KvmIoctl.KVM_SET_LAPIC, lapic.segment());
    }

    /** MP states ({@code KVM_MP_STATE_*}). */
    public static final int MP_STATE_RUNNABLE = 0, MP_STATE_UNINITIALIZED = 1, MP_STATE_INIT_RECEIVED = 2,
            MP_STATE_HALTED = 3, MP_STATE_SIPI_RECEIVED = 4;

    /** {@code KVM_GET_MP_STATE}. */
    public int getMpState() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_INT);
            fd.ioctl(KvmIoctl.KVM_GET_MP_STATE, s);
            return s.get(JAVA_INT, 0);
        }
    }

    /** {@code KVM_SET_MP_STATE}. */
    public void setMpState(int state) {
        try (Arena a = Arena.ofConfined()) {
            fd.ioctl(KvmIoctl.KVM_SET_MP_STATE, a.allocateFrom(JAVA_INT, state));
        }
    }

    /**
     * {@code KVM_GET_STATS_FD} on this vCPU.
     *
     * @throws UnsupportedOperationException when the kernel has no binary stats
     */
    public KvmStats stats() {
        return Vm.openStats(fd, "kvm-vcpu " + id + " stats");
    }

    /**
     * Registers the object running this vCPU (a {@link io.isthmus.kvm.run.VcpuThread} does this itself), so that
     * {@link #close()} stops it first and no thread is left inside {@code KVM_RUN} of a closed vCPU.
     *
     * @throws IllegalStateException when another runner is attached
     */
    public synchronized void attachRunner(AutoCloseable newRunner) {
        if (runner != null && runner != newRunner) {
            throw new IllegalStateException("vCPU " + id + " already has a runner (" + runner + "); stop it first");
        }
        runner = newRunner;
    }

    /** Undoes {@link #attachRunner} if {@code oldRunner} is the one attached. */
    public synchronized void detachRunner(AutoCloseable oldRunner) {
        if (runner == oldRunner) {
            runner = null;
        }
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /**
     * Stops the attached runner, if any (waiting for it unless called from the runner's own thread), then unmaps
     * {@code kvm_run} and closes the descriptor, once.
     */
    @Override
    public void close() {
        AutoCloseable r = runner;
        if (r != null) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException("stopping the runner of vCPU " + id, e);
            }
        }
        synchronized (this) {
            if (!fd.isClosed()) {
                arena.close();
                fd.close();
            }
        }
    }

    @Override
    public String toString() {
        return "Vcpu(" + id + ", " + fd + ")";
    }
}
