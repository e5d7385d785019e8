package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_run;

/**
 * A flyweight over {@code struct kvm_run}: reads and writes the fields of the vCPU's shared page in place.
 *
 * <p>One instance per vCPU, {@link #wrap wrapped} once around the mmap'd page (or, in tests, around any plain
 * segment of {@link #SIZE} bytes or more), then read after every {@code KVM_RUN}: nothing is allocated per exit.
 * Offsets come from the jextract layout of {@code kvm_run}. Methods are named for the exit whose union member they
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
    public static final long SIZE = kvm_run.sizeof();

    // Literals so they can label switch cases; KvmRunTest checks each against the generated kvm_h constant.
    public static final int EXIT_UNKNOWN = 0, EXIT_EXCEPTION = 1, EXIT_IO = 2, EXIT_HYPERCALL = 3, EXIT_DEBUG = 4,
            EXIT_HLT = 5, EXIT_MMIO = 6, EXIT_IRQ_WINDOW_OPEN = 7, EXIT_SHUTDOWN = 8, EXIT_FAIL_ENTRY = 9,
            EXIT_INTR = 10, EXIT_INTERNAL_ERROR = 17, EXIT_SYSTEM_EVENT = 24;
    /** {@code io.direction} values. */
    public static final int IO_IN = 0, IO_OUT = 1;

    private static final long REQUEST_INTERRUPT_WINDOW = kvm_run.request_interrupt_window$offset();
    private static final long IMMEDIATE_EXIT = kvm_run.immediate_exit$offset();
    private static final long EXIT_REASON = kvm_run.exit_reason$offset();
    private static final long READY_FOR_INJECTION = kvm_run.ready_for_interrupt_injection$offset();
    private static final long IF_FLAG = kvm_run.if_flag$offset();
    private static final long CR8 = kvm_run.cr8$offset();
    private static final long APIC_BASE = kvm_run.apic_base$offset();
    private static final long IO = kvm_run.io$offset();
    private static final long IO_DIRECTION = IO + kvm_run.io.direction$offset();
    private static final long IO_SIZE = IO + kvm_run.io.size$offset();
    private static final long IO_PORT = IO + kvm_run.io.port$offset();
    private static final long IO_COUNT = IO + kvm_run.io.count$offset();
    private static final long IO_DATA_OFFSET = IO + kvm_run.io.data_offset$offset();
    private static final long MMIO = kvm_run.mmio$offset();
    private static final long MMIO_PHYS_ADDR = MMIO + kvm_run.mmio.phys_addr$offset();
    private static final long MMIO_DATA = MMIO + kvm_run.mmio.data$offset();
    private static final long MMIO_LEN = MMIO + kvm_run.mmio.len$offset();
    private static final long MMIO_IS_WRITE = MMIO + kvm_run.mmio.is_write$offset();
    private static final long FAIL_ENTRY = kvm_run.fail_entry$offset();
    private static final long FAIL_REASON = FAIL_ENTRY + kvm_run.fail_entry.hardware_entry_failure_reason$offset();
    private static final long FAIL_CPU = FAIL_ENTRY + kvm_run.fail_entry.cpu$offset();
    private static final long HW_EXIT_REASON = kvm_run.hw$offset() + kvm_run.hw.hardware_exit_reason$offset();
    private static final long INTERNAL = kvm_run.internal$offset();
    private static final long INTERNAL_SUBERROR = INTERNAL + kvm_run.internal.suberror$offset();
    private static final long INTERNAL_NDATA = INTERNAL + kvm_run.internal.ndata$offset();
    private static final long INTERNAL_DATA = INTERNAL + kvm_run.internal.data$offset();
    private static final long SYSTEM_EVENT = kvm_run.system_event$offset();
    private static final long SYSTEM_EVENT_TYPE = SYSTEM_EVENT + kvm_run.system_event.type$offset();
    private static final long SYSTEM_EVENT_NDATA = SYSTEM_EVENT + kvm_run.system_event.ndata$offset();
    private static final long SYSTEM_EVENT_DATA = SYSTEM_EVENT + kvm_run.system_event.data$offset();
    private static final long EX_EXCEPTION = kvm_run.ex$offset() + kvm_run.ex.exception$offset();
    private static final long EX_ERROR_CODE = kvm_run.ex$offset() + kvm_run.ex.error_code$offset();

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
            default -> "EXIT_" + reason;
        };
    }
}
