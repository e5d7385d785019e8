package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import io.isthmus.bindings.kvm.kvm_dirty_log;
import io.isthmus.bindings.kvm.kvm_ioeventfd;
import io.isthmus.bindings.kvm.kvm_irqfd;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestRegion;
import io.isthmus.sys.Errno;
import io.isthmus.sys.EventFd;
import io.isthmus.sys.Fd;
import io.isthmus.sys.Libc;
import io.isthmus.sys.KvmIoctl;
import io.isthmus.sys.NativeException;

/**
 * A KVM virtual machine: its memory slots, in-kernel interrupt controllers and event fds, and the parent of its
 * {@link Vcpu}s. Made by {@link Kvm#createVm()}.
 *
 * <p>Lifetime: until {@link #close()}, which closes every vCPU (unmapping its {@code kvm_run}) and then the VM
 * descriptor, once. Guest memory registered as slots is not owned: close the VM before the {@link GuestMemory}.
 * A failed call leaves the VM as it was and closeable.
 *
 * <p>Thread-safe: slot and vCPU bookkeeping is synchronized on the VM; the ioctls themselves are serialized by
 * the kernel.
 */
public final class Vm implements AutoCloseable {
    private static final int IOEVENTFD_DATAMATCH = 1, IOEVENTFD_PIO = 2, IOEVENTFD_DEASSIGN = 4;
    private static final int IRQFD_DEASSIGN = 1;

    private final Kvm kvm;
    private final Fd fd;
    private final int mmapSize;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final Map<Integer, MemorySlot> slots = new TreeMap<>();
    /** The guest memory of each slot made from one (it refuses to close while a slot maps it). Guarded by this. */
    private final Map<Integer, GuestMemory> slotOwners = new TreeMap<>();
    private boolean closed;

    private Vm(Kvm kvm, Fd fd, int mmapSize) {
        this.kvm = kvm;
        this.fd = fd;
        this.mmapSize = mmapSize;
    }

    static Vm create(Kvm kvm, int rawFd) {
        Fd fd = Fd.adopt(rawFd, "kvm-vm");
        try {
            return new Vm(kvm, fd, kvm.vcpuMmapSize());
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The {@link Kvm} this VM was made from (queries on it fail once it is closed). */
    public Kvm kvm() {
        return kvm;
    }

    /** The VM descriptor. */
    public Fd fd() {
        return fd;
    }

    /** {@code KVM_CHECK_EXTENSION} on the VM: capabilities can differ per VM type. */
    public int checkExtension(int capability) {
        return fd.ioctl(KvmIoctl.KVM_CHECK_EXTENSION, capability);
    }

    // ---- memory slots ----

    /**
     * {@code KVM_SET_USER_MEMORY_REGION}: makes guest-physical {@code [guestAddress, guestAddress + host.byteSize())}
     * the host memory {@code host}, in slot {@code slot}, replacing a slot of that number if any (KVM allows
     * changing only the flags of an existing slot, or deleting it).
     *
     * @param flags {@link MemorySlot#LOG_DIRTY_PAGES}, {@link MemorySlot#READONLY}
     * @throws NativeException naming the slot, e.g. {@code EEXIST} when it overlaps another slot, {@code EINVAL}
     *                         when an address or the size is not page-aligned
     */
    public MemorySlot setMemorySlot(int slot, int flags, long guestAddress, MemorySegment host) {
        if (!host.isNative() || host.byteSize() == 0) {
            throw new IllegalArgumentException("slot " + slot + ": host memory must be a non-empty native segment");
        }
        MemorySlot s = new MemorySlot(slot, flags, guestAddress, host.byteSize(), host);
        setRegion(s, host.address(), s.size());
        synchronized (this) {
            slots.put(slot, s);
        }
        return s;
    }

    /** Registers {@code region} in the lowest free slot; see {@link #setMemorySlot}. */
    public MemorySlot addRegion(GuestRegion region, int flags) {
        int slot;
        synchronized (this) {
            slot = 0;
            while (slots.containsKey(slot)) {
                slot++;
            }
            // Reserve the number so that a concurrent add picks another.
            slots.put(slot, new MemorySlot(slot, flags, region.start(), region.size(), region.host()));
        }
        GuestMemory owner = region.owner();
        if (owner != null) {
            owner.mappedBy(this);
        }
        try {
            MemorySlot s = setMemorySlot(slot, flags, region.start(), region.host());
            if (owner != null) {
                synchronized (this) {
                    slotOwners.put(slot, owner);
                }
            }
            return s;
        } catch (RuntimeException e) {
            synchronized (this) {
                slots.remove(slot);
                if (owner != null && !slotOwners.containsValue(owner)) {
                    owner.unmappedBy(this);
                }
            }
            throw e;
        }
    }

    /** Registers every region of {@code memory} as a slot with {@code flags}; returns the slots in region order. */
    public List<MemorySlot> addMemory(GuestMemory memory, int flags) {
        List<MemorySlot> added = new ArrayList<>();
        for (GuestRegion r : memory.regions()) {
            added.add(addRegion(r, flags));
        }
        return added;
    }

    /**
     * Deletes {@code slot} in the kernel (size 0); the guest then sees MMIO where it was. Once no slot maps a guest
     * memory any more, that memory may be closed.
     */
    public void removeSlot(MemorySlot slot) {
        setRegion(new MemorySlot(slot.slot(), 0, slot.guestAddress(), 0, slot.host()), 0, 0);
        GuestMemory released = null;
        synchronized (this) {
            slots.remove(slot.slot());
            GuestMemory owner = slotOwners.remove(slot.slot());
            if (owner != null && !slotOwners.containsValue(owner)) {
                released = owner;
            }
        }
        if (released != null) {
            released.unmappedBy(this);
        }
    }

    /** The slots currently set, by number. */
    public synchronized List<MemorySlot> slots() {
        return List.copyOf(slots.values());
    }

    private void setRegion(MemorySlot s, long hostAddress, long size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(KvmAbi.MEMORY_REGION_SIZE, 8);
            r.set(JAVA_INT, KvmAbi.MEMORY_REGION_SLOT, s.slot());
            r.set(JAVA_INT, KvmAbi.MEMORY_REGION_FLAGS, s.flags());
            r.set(JAVA_LONG, KvmAbi.MEMORY_REGION_GUEST_PHYS_ADDR, s.guestAddress());
            r.set(JAVA_LONG, KvmAbi.MEMORY_REGION_MEMORY_SIZE, size);
            r.set(JAVA_LONG, KvmAbi.MEMORY_REGION_USERSPACE_ADDR, hostAddress);
            int res = Libc.ioctl(fd.get(), KvmIoctl.KVM_SET_USER_MEMORY_REGION, r);
            if (res < 0) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_SET_USER_MEMORY_REGION)
                        + String.format(" (slot %d, guest 0x%x, %d bytes, flags %d)", s.slot(), s.guestAddress(),
                        size, s.flags()), -res);
            }
        }
    }

    /**
     * {@code KVM_GET_DIRTY_LOG}: the pages of {@code slot} the guest wrote since the last call (bit {@code i} =
     * page {@code i} of the slot), clearing the log. The slot needs {@link MemorySlot#LOG_DIRTY_PAGES}.
     */
    public BitSet dirtyLog(MemorySlot slot) {
        long words = (slot.pages() + 63) / 64;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bitmap = arena.allocate(8 * Math.max(1, words), 8);
            MemorySegment log = arena.allocate(kvm_dirty_log.layout());
            kvm_dirty_log.slot(log, slot.slot());
            log.set(java.lang.foreign.ValueLayout.ADDRESS, kvm_dirty_log.dirty_bitmap$offset(), bitmap);
            int r = fd.ioctlRaw(KvmIoctl.KVM_GET_DIRTY_LOG, log);
            if (r < 0) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_GET_DIRTY_LOG) + " (" + slot + ")", -r);
            }
            return BitSet.valueOf(bitmap.asSlice(0, 8 * words).toArray(JAVA_LONG));
        }
    }

    // ---- vCPUs ----

    /**
     * {@code KVM_CREATE_VCPU} with {@code id} (the APIC id), mapping its {@code kvm_run}.
     *
     * @throws NativeException {@code EINVAL} when {@code id} is at or above {@link Kvm#maxVcpuId()} or the VM has
     *                         {@link Kvm#maxVcpus()} already, {@code EEXIST} when the id is taken
     */
    public Vcpu createVcpu(int id) {
        int raw = Libc.ioctl(fd.get(), KvmIoctl.KVM_CREATE_VCPU, id); // the setup form: FailNth counts it
        if (raw < 0) {
            throw new NativeException(fd.describe(KvmIoctl.KVM_CREATE_VCPU) + " (vCPU id " + id + ")", -raw);
        }
        Vcpu v = Vcpu.create(this, id, raw, mmapSize);
        synchronized (this) {
            vcpus.add(v);
        }
        return v;
    }

    /** The vCPUs made so far, in creation order. */
    public synchronized List<Vcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    // ---- interrupt controllers and x86 setup ----

    /** {@code KVM_SET_TSS_ADDR}: three pages of guest-physical space KVM needs on Intel; must not be RAM used by the guest. */
    public void setTssAddr(long address) {
        fd.ioctl(KvmIoctl.KVM_SET_TSS_ADDR, address);
    }

    /** {@code KVM_SET_IDENTITY_MAP_ADDR}: one page for the real-mode identity map on Intel. */
    public void setIdentityMapAddr(long address) {
        try (Arena arena = Arena.ofConfined()) {
            fd.ioctl(KvmIoctl.KVM_SET_IDENTITY_MAP_ADDR, arena.allocateFrom(JAVA_LONG, address));
        }
    }

    /** {@code KVM_CREATE_IRQCHIP}: the in-kernel PIC pair, IOAPIC and per-vCPU LAPICs. Before creating vCPUs. */
    public void createIrqchip() {
        fd.ioctl(KvmIoctl.KVM_CREATE_IRQCHIP);
    }

    /** {@code KVM_CREATE_PIT2}: the in-kernel i8254 PIT; needs the irqchip. */
    public void createPit2(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(KvmAbi.PIT_CONFIG_SIZE, 8);
            c.set(JAVA_INT, KvmAbi.PIT_CONFIG_FLAGS, flags);
            fd.ioctl(KvmIoctl.KVM_CREATE_PIT2, c);
        }
    }

    /**
     * {@code KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)}: the LAPICs in the kernel, the PIC, IOAPIC and PIT left to user
     * space (QEMU's {@code kernel-irqchip=split}, microvm's default). {@code ioapicPins} GSIs (24 for one IOAPIC)
     * are reserved for user-space IOAPIC routes; the kernel reports EOIs of level-triggered vectors routed through
     * them as {@code KVM_EXIT_IOAPIC_EOI}. Instead of {@link #createIrqchip()}, before creating vCPUs. Besides
     * matching QEMU, it costs nothing at exit, where tearing down the in-kernel PIC/IOAPIC/PIT takes ~24 ms on
     * nested KVM.
     */
    public void enableSplitIrqchip(int ioapicPins) {
        enableCap(Kvm.CAP_SPLIT_IRQCHIP, ioapicPins);
    }

    /** {@code KVM_ENABLE_CAP} on the VM with {@code args[0] = arg0}. */
    public void enableCap(int capability, long arg0) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(KvmAbi.ENABLE_CAP_SIZE, 8);
            c.set(JAVA_INT, KvmAbi.ENABLE_CAP_CAP, capability);
            c.set(JAVA_LONG, KvmAbi.ENABLE_CAP_ARGS, arg0);
            fd.ioctl(KvmIoctl.KVM_ENABLE_CAP, c);
        }
    }

    /**
     * {@code KVM_SET_GSI_ROUTING} with one MSI route per GSI {@code 0..n-1}: GSI {@code i} signals the MSI
     * ({@code addresses[i]}, {@code data[i]}) where {@code present[i]}; GSIs not present get no route. With a split
     * irqchip this is how a user-space IOAPIC tells the kernel which vectors are level-triggered, so that their
     * EOIs come back as {@code KVM_EXIT_IOAPIC_EOI}. Replaces the whole table.
     */
    public void setMsiRoutes(long[] addresses, int[] data, boolean[] present) {
        int n = 0;
        for (boolean p : present) {
            n += p ? 1 : 0;
        }
        try (Arena arena = Arena.ofConfined()) {
            long entry = KvmAbi.IRQ_ROUTING_ENTRY_SIZE;
            MemorySegment t = arena.allocate(KvmAbi.IRQ_ROUTING_SIZE + entry * n, 8);
            t.set(JAVA_INT, KvmAbi.IRQ_ROUTING_NR, n);
            long at = KvmAbi.IRQ_ROUTING_SIZE;
            for (int gsi = 0; gsi < present.length; gsi++) {
                if (!present[gsi]) {
                    continue;
                }
                t.set(JAVA_INT, at + KvmAbi.IRQ_ROUTING_ENTRY_GSI, gsi);
                t.set(JAVA_INT, at + KvmAbi.IRQ_ROUTING_ENTRY_TYPE, 2); // KVM_IRQ_ROUTING_MSI
                long msi = at + KvmAbi.IRQ_ROUTING_ENTRY_U;
                t.set(JAVA_INT, msi + KvmAbi.ROUTING_MSI_ADDRESS_LO, (int) addresses[gsi]);
                t.set(JAVA_INT, msi + KvmAbi.ROUTING_MSI_ADDRESS_HI, (int) (addresses[gsi] >>> 32));
                t.set(JAVA_INT, msi + KvmAbi.ROUTING_MSI_DATA, data[gsi]);
                at += entry;
            }
            fd.ioctl(KvmIoctl.KVM_SET_GSI_ROUTING, t);
        }
    }

    /** {@code KVM_IRQ_LINE}: sets GSI {@code irq} high or low (the in-kernel irqchip's pin, or a GSI route). */
    public void irqLine(int irq, boolean high) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = arena.allocate(KvmAbi.IRQ_LEVEL_SIZE, 8);
            l.set(JAVA_INT, KvmAbi.IRQ_LEVEL_IRQ, irq);
            l.set(JAVA_INT, KvmAbi.IRQ_LEVEL_LEVEL, high ? 1 : 0);
            fd.ioctl(KvmIoctl.KVM_IRQ_LINE, l);
        }
    }

    /**
     * {@code KVM_SIGNAL_MSI}: injects a message-signalled interrupt ({@code KVM_CAP_SIGNAL_MSI}, needs the irqchip).
     *
     * @return whether it was delivered (false when the guest had it masked)
     */
    public boolean signalMsi(long address, int data) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.MSI_SIZE, 8);
            m.set(JAVA_INT, KvmAbi.MSI_ADDRESS_LO, (int) address);
            m.set(JAVA_INT, KvmAbi.MSI_ADDRESS_HI, (int) (address >>> 32));
            m.set(JAVA_INT, KvmAbi.MSI_DATA, data);
            return fd.ioctl(KvmIoctl.KVM_SIGNAL_MSI, m) > 0;
        }
    }

    /** {@code KVM_IRQFD}: signalling {@code eventfd} raises GSI {@code gsi} (edge) in the kernel, no exit. */
    public void assignIrqfd(EventFd eventfd, int gsi) {
        irqfd(eventfd, gsi, 0);
    }

    /** Undoes {@link #assignIrqfd}. */
    public void deassignIrqfd(EventFd eventfd, int gsi) {
        irqfd(eventfd, gsi, IRQFD_DEASSIGN);
    }

    private void irqfd(EventFd eventfd, int gsi, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(kvm_irqfd.layout());
            kvm_irqfd.fd(s, eventfd.fd().get());
            kvm_irqfd.gsi(s, gsi);
            kvm_irqfd.flags(s, flags);
            int r = Libc.ioctl(fd.get(), KvmIoctl.KVM_IRQFD, s);
            if (r < 0) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_IRQFD) + " (gsi " + gsi + ", "
                        + eventfd.fd().name() + ")", -r);
            }
        }
    }

    /**
     * {@code KVM_IOEVENTFD}: a guest write of {@code length} bytes at {@code address} (a port when {@code pio})
     * signals {@code eventfd} in the kernel instead of exiting; with {@code datamatch} non-null only writes of
     * that value do.
     */
    public void assignIoeventfd(EventFd eventfd, long address, int length, boolean pio, Long datamatch) {
        ioeventfd(eventfd, address, length, pio, datamatch, 0);
    }

    /** Undoes {@link #assignIoeventfd} (same arguments). */
    public void deassignIoeventfd(EventFd eventfd, long address, int length, boolean pio, Long datamatch) {
        ioeventfd(eventfd, address, length, pio, datamatch, IOEVENTFD_DEASSIGN);
    }

    private void ioeventfd(EventFd eventfd, long address, int length, boolean pio, Long datamatch, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(kvm_ioeventfd.layout());
            kvm_ioeventfd.addr(s, address);
            kvm_ioeventfd.len(s, length);
            kvm_ioeventfd.fd(s, eventfd.fd().get());
            int f = flags | (pio ? IOEVENTFD_PIO : 0);
            if (datamatch != null) {
                f |= IOEVENTFD_DATAMATCH;
                kvm_ioeventfd.datamatch(s, datamatch);
            }
            kvm_ioeventfd.flags(s, f);
            int r = Libc.ioctl(fd.get(), KvmIoctl.KVM_IOEVENTFD, s);
            if (r < 0) {
                throw new NativeException(fd.describe(KvmIoctl.KVM_IOEVENTFD) + String.format(
                        " (%s 0x%x/%d)", pio ? "port" : "mmio", address, length), -r);
            }
        }
    }

    /**
     * {@code KVM_GET_STATS_FD}: the VM's binary statistics.
     *
     * @throws UnsupportedOperationException when the kernel has no binary stats ({@code KVM_CAP_BINARY_STATS_FD})
     */
    public KvmStats stats() {
        return openStats(fd, "kvm-vm stats");
    }

    static KvmStats openStats(Fd owner, String name) {
        int r = Libc.ioctl(owner.get(), KvmIoctl.KVM_GET_STATS_FD, 0);
        if (r == -Errno.ENOTTY || r == -Errno.EINVAL) {
            throw new UnsupportedOperationException("binary statistics are not available: this kernel lacks"
                    + " KVM_GET_STATS_FD (KVM_CAP_BINARY_STATS_FD, Linux 5.14+); " + owner.describe(
                    KvmIoctl.KVM_GET_STATS_FD) + " failed with " + Errno.symbol(-r));
        }
        if (r < 0) {
            throw new NativeException(owner.describe(KvmIoctl.KVM_GET_STATS_FD), -r);
        }
        return KvmStats.adopt(r, name);
    }

    /** Whether {@link #close()} has run. */
    public synchronized boolean isClosed() {
        return closed;
    }

    /** Closes every vCPU, then the VM descriptor; once. Stop vCPU threads first. */
    @Override
    public void close() {
        List<Vcpu> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new ArrayList<>(vcpus);
            vcpus.clear();
            slots.clear();
        }
        RuntimeException first = null;
        for (Vcpu v : toClose) {
            try {
                v.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        fd.close();
        // The kernel dropped the slots with the descriptor: their memory may be freed now.
        List<GuestMemory> owners;
        synchronized (this) {
            owners = new ArrayList<>(new java.util.LinkedHashSet<>(slotOwners.values()));
            slotOwners.clear();
        }
        for (GuestMemory m : owners) {
            m.unmappedBy(this);
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "Vm(" + fd + ")";
    }
}
