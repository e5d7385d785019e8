package io.isthmus.kvm;

import java.lang.foreign.MemorySegment;

/**
 * A KVM memory slot: guest-physical {@code [guestAddress, guestAddress + size)} backed by the host segment
 * {@code host}, as set with {@code KVM_SET_USER_MEMORY_REGION}.
 *
 * <p>A value: it describes a slot; {@link Vm#removeSlot(MemorySlot)} deletes the slot in the kernel. The host
 * segment must outlive the slot. Immutable; safe to share.
 *
 * @param slot         the slot number (its address-space bits included)
 * @param flags        {@link #LOG_DIRTY_PAGES}, {@link #READONLY}
 * @param guestAddress the first guest-physical address
 * @param size         the size in bytes
 * @param host         the host memory, exactly {@code size} bytes
 */
public record MemorySlot(int slot, int flags, long guestAddress, long size, MemorySegment host) {
    /** {@code KVM_MEM_LOG_DIRTY_PAGES}: track guest writes for {@link Vm#dirtyLog(MemorySlot)}. */
    public static final int LOG_DIRTY_PAGES = 1;
    /** {@code KVM_MEM_READONLY}: guest writes exit to user space as MMIO ({@code KVM_CAP_READONLY_MEM}). */
    public static final int READONLY = 2;

    public boolean readOnly() {
        return (flags & READONLY) != 0;
    }

    public boolean logsDirtyPages() {
        return (flags & LOG_DIRTY_PAGES) != 0;
    }

    /** Pages in the slot (host page size). */
    public long pages() {
        return size / io.isthmus.sys.Libc.pageSize();
    }

    @Override
    public String toString() {
        return String.format("slot %d [0x%x-0x%x)%s%s", slot, guestAddress, guestAddress + size,
                readOnly() ? " ro" : "", logsDirtyPages() ? " dirty-log" : "");
    }
}
