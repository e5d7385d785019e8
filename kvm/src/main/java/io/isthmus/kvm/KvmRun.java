package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/**
 * A flyweight over {@code struct kvm_run}: reads and writes the fields of the vCPU's shared page in place.
 *
 * <p>One instance per vCPU, {@link #wrap wrapped} once around the mmap'd page (or, in tests, around any plain
 * segment of {@link #SIZE} bytes or more), then read after every {@code KVM_RUN}: nothing is allocated per exit.
 * Offsets are {@link KvmAbi}'s literals, checked against the jextract layout of {@code kvm_run}. Methods are named for the exit whose union member they
 * read; reading a member of another exit returns whatever the page holds.
 *
 * <pre>
 *   0  request_interrupt_window u8 | immediate_exit u8 | pad[6]
 *   8  exit_reason u32 | ready_for_interrupt_injection u8 | if_flag u8 | flags u16
 *  16  cr8 u64 | 24 apic_base u64
 *  32  union { io{direction,size,port,count,data_offset}, mmio{phys_addr,data[8],len,is_write},
 *              fail_entry, internal, system_event, ... } (256 bytes)
 * 288  kvm_valid_regs | kvm_dirty_regs | s.regs (2048)          PIO data lives at data_offset (page 1)
 * </pre>
 *
 * <p>Not thread-safe: the vCPU thread owns it while the vCPU runs (the kernel writes the page during
 * {@code KVM_RUN}); {@link #requestImmediateExit} is the one field other threads may set.
 */
public final class KvmRun {
    /** Bytes of {@code struct kvm_run} itself (PIO data follows it in the same mapping). */
    public static final long SIZE = KvmAbi.RUN_SIZE;

    // Literals so they can label switch cases; KvmRunTest checks each against the generated kvm_h constant.
    public static final int EXIT_UNKNOWN = 0, EXIT_EXCEPTION = 1, EXIT_IO = 2, EXIT_HYPERCALL = 3, EXIT_DEBUG = 4,
            EXIT_HLT = 5, EXIT_MMIO = 6, EXIT_IRQ_WINDOW_OPEN = 7, EXIT_SHUTDOWN = 8, EXIT_FAIL_ENTRY = 9,
            EXIT_INTR = 10, EXIT_INTERNAL_ERROR = 17, EXIT_SYSTEM_EVENT = 24, EXIT_IOAPIC_EOI = 26;
    /** {@code io.direction} values. */
    public static final int IO_IN = 0, IO_OUT = 1;

    private static final long REQUEST_INTERRUPT_WINDOW = KvmAbi.RUN_REQUEST_INTERRUPT_WINDOW;
    private static final long IMMEDIATE_EXIT = KvmAbi.RUN_IMMEDIATE_EXIT;
    private static final long EXIT_REASON = KvmAbi.RUN_EXIT_REASON;
    private static final long READY_FOR_INJECTION = KvmAbi.RUN_READY_FOR_INTERRUPT_INJECTION;
    private static final long IF_FLAG = KvmAbi.RUN_IF_FLAG;
    private static final long CR8 = KvmAbi.RUN_CR8;
    private static final long APIC_BASE = KvmAbi.RUN_APIC_BASE;
    private static final long IO_DIRECTION = KvmAbi.RUN_IO_DIRECTION;
    private static final long IO_SIZE = KvmAbi.RUN_IO_SIZE;
    private static final long IO_PORT = KvmAbi.RUN_IO_PORT;
    private static final long IO_COUNT = KvmAbi.RUN_IO_COUNT;
    private static final long IO_DATA_OFFSET = KvmAbi.RUN_IO_DATA_OFFSET;
    private static final long MMIO_PHYS_ADDR = KvmAbi.RUN_MMIO_PHYS_ADDR;
    private static final long MMIO_DATA = KvmAbi.RUN_MMIO_DATA;
    private static final long MMIO_LEN = KvmAbi.RUN_MMIO_LEN;
    private static final long MMIO_IS_WRITE = KvmAbi.RUN_MMIO_IS_WRITE;
    private static final long FAIL_REASON = KvmAbi.RUN_FAIL_ENTRY_REASON;
    private static final long FAIL_CPU = KvmAbi.RUN_FAIL_ENTRY_CPU;
    private static final long HW_EXIT_REASON = KvmAbi.RUN_HW_EXIT_REASON;
    private static final long INTERNAL_SUBERROR = KvmAbi.RUN_INTERNAL_SUBERROR;
    private static final long INTERNAL_NDATA = KvmAbi.RUN_INTERNAL_NDATA;
    private static final long INTERNAL_DATA = KvmAbi.RUN_INTERNAL_DATA;
    private static final long SYSTEM_EVENT_TYPE = KvmAbi.RUN_SYSTEM_EVENT_TYPE;
    private static final long SYSTEM_EVENT_NDATA = KvmAbi.RUN_SYSTEM_EVENT_NDATA;
    private static final long SYSTEM_EVENT_DATA = KvmAbi.RUN_SYSTEM_EVENT_DATA;
    private static final long EX_EXCEPTION = KvmAbi.RUN_EX_EXCEPTION;
    private static final long EX_ERROR_CODE = KvmAbi.RUN_EX_ERROR_CODE;
    private static final long EOI_VECTOR = KvmAbi.RUN_EOI_VECTOR;

    private MemorySegment page = MemorySegment.NULL;

    /** An unwrapped flyweight; call {@link #wrap} before use. */
    public KvmRun() {}

    /** A flyweight over {@code page}. */
    public KvmRun(MemorySegment page) {
        wrap(page);
    }

    /**
     * Points this flyweight at {@code page}: the whole vCPU mapping (so PIO data at {@code data_offset} is in
     * reach), or a plain segment of at least {@link #SIZE} bytes.
     */
    public KvmRun wrap(MemorySegment page) {
        if (page.byteSize() < SIZE) {
            throw new IllegalArgumentException("kvm_run needs " + SIZE + " bytes, got " + page.byteSize());
        }
        this.page = page;
        return this;
    }

    /** The wrapped memory. */
    public MemorySegment segment() {
        return page;
    }

    public int exitReason() {
        return page.get(JAVA_INT_UNALIGNED, EXIT_REASON);
    }

    public void exitReason(int reason) {
        page.set(JAVA_INT_UNALIGNED, EXIT_REASON, reason);
    }

    /** Sets {@code immediate_exit}: the next {@code KVM_RUN} returns {@code EINTR} at once without entering the guest. */
    public void requestImmediateExit(boolean exit) {
        page.set(JAVA_BYTE, IMMEDIATE_EXIT, (byte) (exit ? 1 : 0));
    }

    public boolean immediateExit() {
        return page.get(JAVA_BYTE, IMMEDIATE_EXIT) != 0;
    }

    public void requestInterruptWindow(boolean request) {
        page.set(JAVA_BYTE, REQUEST_INTERRUPT_WINDOW, (byte) (request ? 1 : 0));
    }

    public boolean readyForInterruptInjection() {
        return page.get(JAVA_BYTE, READY_FOR_INJECTION) != 0;
    }

    public boolean ifFlag() {
        return page.get(JAVA_BYTE, IF_FLAG) != 0;
    }

    public long cr8() {
        return page.get(JAVA_LONG_UNALIGNED, CR8);
    }

    public long apicBase() {
        return page.get(JAVA_LONG_UNALIGNED, APIC_BASE);
    }

    // ---- KVM_EXIT_IO ----

    /** {@link #IO_IN} or {@link #IO_OUT}. */
    public int ioDirection() {
        return page.get(JAVA_BYTE, IO_DIRECTION);
    }

    /** Bytes per access: 1, 2 or 4. */
    public int ioSize() {
        return page.get(JAVA_BYTE, IO_SIZE);
    }

    public int ioPort() {
        return page.get(JAVA_SHORT_UNALIGNED, IO_PORT) & 0xFFFF;
    }

    /** Accesses in this exit: more than 1 for {@code rep ins/outs}. */
    public int ioCount() {
        return page.get(JAVA_INT_UNALIGNED, IO_COUNT);
    }

    /** Offset of the data buffer from the start of the mapping. */
    public long ioDataOffset() {
        return page.get(JAVA_LONG_UNALIGNED, IO_DATA_OFFSET);
    }

    /** The {@code index}-th value of an OUT (or the slot for an IN), zero-extended. */
    public long ioData(int index) {
        int size = ioSize();
        long at = ioDataOffset() + (long) index * size;
        return switch (size) {
            case 1 -> page.get(JAVA_BYTE, at) & 0xFFL;
            case 2 -> page.get(JAVA_SHORT_UNALIGNED, at) & 0xFFFFL;
            default -> page.get(JAVA_INT_UNALIGNED, at) & 0xFFFF_FFFFL;
        };
    }

    /** Stores the {@code index}-th value an IN returns to the guest. */
    public void ioData(int index, long value) {
        int size = ioSize();
        long at = ioDataOffset() + (long) index * size;
        switch (size) {
            case 1 -> page.set(JAVA_BYTE, at, (byte) value);
            case 2 -> page.set(JAVA_SHORT_UNALIGNED, at, (short) value);
            default -> page.set(JAVA_INT_UNALIGNED, at, (int) value);
        }
    }

    /** Fills in an IO exit (for tests and replay): data at {@code dataOffset} in the wrapped segment. */
    public void setIo(int direction, int size, int port, int count, long dataOffset) {
        exitReason(EXIT_IO);
        page.set(JAVA_BYTE, IO_DIRECTION, (byte) direction);
        page.set(JAVA_BYTE, IO_SIZE, (byte) size);
        page.set(JAVA_SHORT_UNALIGNED, IO_PORT, (short) port);
        page.set(JAVA_INT_UNALIGNED, IO_COUNT, count);
        page.set(JAVA_LONG_UNALIGNED, IO_DATA_OFFSET, dataOffset);
    }

    // ---- KVM_EXIT_MMIO ----

    public long mmioPhysAddr() {
        return page.get(JAVA_LONG_UNALIGNED, MMIO_PHYS_ADDR);
    }

    /** Bytes accessed: 1, 2, 4 or 8. */
    public int mmioLen() {
        return page.get(JAVA_INT_UNALIGNED, MMIO_LEN);
    }

    public boolean mmioIsWrite() {
        return page.get(JAVA_BYTE, MMIO_IS_WRITE) != 0;
    }

    /** The written value, {@link #mmioLen()} bytes zero-extended. */
    public long mmioData() {
        long v = page.get(JAVA_LONG_UNALIGNED, MMIO_DATA);
        int len = mmioLen();
        return len >= 8 ? v : v & ((1L << (len * 8)) - 1);
    }

    /** Stores the value a read returns to the guest (the kernel copies {@link #mmioLen()} bytes). */
    public void mmioData(long value) {
        page.set(JAVA_LONG_UNALIGNED, MMIO_DATA, value);
    }

    /** Fills in an MMIO exit (for tests and replay). */
    public void setMmio(long physAddr, int len, boolean isWrite, long data) {
        exitReason(EXIT_MMIO);
        page.set(JAVA_LONG_UNALIGNED, MMIO_PHYS_ADDR, physAddr);
        page.set(JAVA_INT_UNALIGNED, MMIO_LEN, len);
        page.set(JAVA_BYTE, MMIO_IS_WRITE, (byte) (isWrite ? 1 : 0));
        page.set(JAVA_LONG_UNALIGNED, MMIO_DATA, data);
    }

    // ---- other exits ----

    /** {@code KVM_EXIT_UNKNOWN}: the hardware exit reason. */
    public long hardwareExitReason() {
        return page.get(JAVA_LONG_UNALIGNED, HW_EXIT_REASON);
    }

    /** {@code KVM_EXIT_FAIL_ENTRY}: the hardware entry failure reason (VMX: the VM-exit reason). */
    public long failEntryReason() {
        return page.get(JAVA_LONG_UNALIGNED, FAIL_REASON);
    }

    public int failEntryCpu() {
        return page.get(JAVA_INT_UNALIGNED, FAIL_CPU);
    }

    /** {@code KVM_EXIT_INTERNAL_ERROR}: {@code KVM_INTERNAL_ERROR_*}. */
    public int internalSuberror() {
        return page.get(JAVA_INT_UNALIGNED, INTERNAL_SUBERROR);
    }

    public int internalNdata() {
        return page.get(JAVA_INT_UNALIGNED, INTERNAL_NDATA);
    }

    public long internalData(int i) {
        return page.get(JAVA_LONG_UNALIGNED, INTERNAL_DATA + 8L * i);
    }

    /** {@code KVM_EXIT_SYSTEM_EVENT}: {@code KVM_SYSTEM_EVENT_SHUTDOWN}, {@code _RESET}, {@code _CRASH}, … */
    public int systemEventType() {
        return page.get(JAVA_INT_UNALIGNED, SYSTEM_EVENT_TYPE);
    }

    public int systemEventNdata() {
        return page.get(JAVA_INT_UNALIGNED, SYSTEM_EVENT_NDATA);
    }

    public long systemEventData(int i) {
        return page.get(JAVA_LONG_UNALIGNED, SYSTEM_EVENT_DATA + 8L * i);
    }

    /** {@code KVM_EXIT_IOAPIC_EOI} (split irqchip): the vector of the level-triggered interrupt the guest ended. */
    public int eoiVector() {
        return page.get(JAVA_BYTE, EOI_VECTOR) & 0xFF;
    }

    /** {@code KVM_EXIT_EXCEPTION}: the vector. */
    public int exceptionVector() {
        return page.get(JAVA_INT_UNALIGNED, EX_EXCEPTION);
    }

    public int exceptionErrorCode() {
        return page.get(JAVA_INT_UNALIGNED, EX_ERROR_CODE);
    }

    /** The name of an exit reason: {@code IO}, {@code HLT}, … or {@code EXIT_n}. */
    public static String exitName(int reason) {
        return switch (reason) {
            case 0 -> "UNKNOWN";
            case 1 -> "EXCEPTION";
            case 2 -> "IO";
            case 3 -> "HYPERCALL";
            case 4 -> "DEBUG";
            case 5 -> "HLT";
            case 6 -> "MMIO";
            case 7 -> "IRQ_WINDOW_OPEN";
            case 8 -> "SHUTDOWN";
            case 9 -> "FAIL_ENTRY";
            case 10 -> "INTR";
            case 17 -> "INTERNAL_ERROR";
            case 24 -> "SYSTEM_EVENT";
            case 26 -> "IOAPIC_EOI";
            default -> "EXIT_" + reason;
        };
    }
}
