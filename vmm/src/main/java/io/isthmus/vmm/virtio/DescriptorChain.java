package io.isthmus.vmm.virtio;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;

import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestMemoryException;
import io.isthmus.kvm.memory.GuestRegion;

/**
 * One descriptor chain taken from a {@link Virtqueue}: the buffers of one request, walked and checked, as a
 * reusable flyweight (each queue has one, refilled by every {@link Virtqueue#pop()}).
 *
 * <p>Walking copies every descriptor's address, length and flags out of guest memory once, so the guest cannot
 * change a buffer after it has been checked; it checks, on every walk: each buffer lies wholly in guest RAM and
 * does not wrap; each {@code next} index lies in its table; the chain ends within the queue size (within the
 * table's size for an indirect table), which also catches every loop; device-writable buffers come after the
 * device-readable ones (2.7.4.2); at most one indirect table, on the last descriptor of the chain, with no
 * {@code NEXT} flag, a length that is a non-zero multiple of 16 and no nested indirect descriptor (2.7.5.3). A
 * failed check throws {@link VirtioProtocolException}.
 *
 * <p>Payload access ({@link #readReadable}, {@link #writeWritable}) addresses the readable and writable bytes as
 * two streams, since a device may not assume how the driver splits a request into buffers (2.6.4).
 *
 * <p>Lifetime: valid from {@code pop} until the next {@code pop} or reset of its queue. Not thread-safe: used only
 * by the thread processing its queue, under the queue's lock. Nothing is allocated after construction.
 */
public final class DescriptorChain {
    /** Descriptor layout (2.7.5): {@code le64 addr | le32 len | le16 flags | le16 next}. */
    static final int DESC_SIZE = 16;
    static final int DESC_ADDR = 0, DESC_LEN = 8, DESC_FLAGS = 12, DESC_NEXT = 14;
    static final int F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;

    private final GuestMemory memory;
    private final int queueIndex;
    private final long[] addresses;
    private final long[] lengths;
    private int head;
    private int count;
    private int firstWritable;
    private long readableBytes;
    private long writableBytes;

    /**
     * A chain for queue {@code queueIndex} holding up to {@code capacity} buffers: the queue's maximum size for
     * direct descriptors plus as many again for an indirect table.
     */
    DescriptorChain(GuestMemory memory, int queueIndex, int capacity) {
        this.memory = memory;
        this.queueIndex = queueIndex;
        this.addresses = new long[capacity];
        this.lengths = new long[capacity];
    }

    /**
     * Walks the chain starting at {@code head} in {@code table} (the queue's descriptor table of {@code size}
     * entries), following at most one indirect table of at most {@code maxIndirect} entries when
     * {@code indirectAllowed}.
     */
    void load(MemorySegment table, int size, int head, boolean indirectAllowed, int maxIndirect) {
        this.head = head;
        count = 0;
        firstWritable = -1;
        readableBytes = 0;
        writableBytes = 0;
        MemorySegment t = table;
        long base = 0;
        int entries = size;
        int index = head;
        int walked = 0;
        boolean inIndirect = false;
        while (true) {
            if (walked == entries) {
                throw new VirtioProtocolException("queue " + queueIndex + ": descriptor chain from " + head
                        + (inIndirect ? " runs past its indirect table of " : " loops or runs past the queue size ")
                        + entries);
            }
            walked++;
            long at = base + (long) index * DESC_SIZE;
            long address = t.get(JAVA_LONG_UNALIGNED, at + DESC_ADDR);
            long length = t.get(JAVA_INT_UNALIGNED, at + DESC_LEN) & 0xFFFF_FFFFL;
            int flags = t.get(JAVA_SHORT_UNALIGNED, at + DESC_FLAGS) & 0xFFFF;
            int next = t.get(JAVA_SHORT_UNALIGNED, at + DESC_NEXT) & 0xFFFF;
            if ((flags & F_INDIRECT) != 0) {
                if (!indirectAllowed) {
                    throw error("indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated", index);
                }
                if (inIndirect) {
                    throw error("indirect descriptor inside an indirect table", index);
                }
                if ((flags & F_NEXT) != 0) {
                    throw error("indirect descriptor with the NEXT flag", index);
                }
                if (length == 0 || length % DESC_SIZE != 0 || length / DESC_SIZE > maxIndirect) {
                    throw error("indirect table of " + length + " bytes (a multiple of 16, at most "
                            + maxIndirect + " entries)", index);
                }
                GuestRegion r = memory.regionOf(address);
                if (r == null || Long.compareUnsigned(length, r.end() - address) > 0) {
                    throw error("indirect table at 0x" + Long.toHexString(address) + " of " + length
                            + " bytes is outside guest RAM", index);
                }
                t = r.host();
                base = address - r.start();
                entries = (int) (length / DESC_SIZE);
                index = 0;
                walked = 0;
                inIndirect = true;
                continue;
            }
            if (length != 0 && (Long.compareUnsigned(address + length, address) < 0
                    || !memory.isRam(address, length))) {
                throw error("buffer at 0x" + Long.toHexString(address) + " of " + length
                        + " bytes is outside guest RAM", index);
            }
            if ((flags & F_WRITE) != 0) {
                if (firstWritable < 0) {
                    firstWritable = count;
                }
                writableBytes += length;
            } else {
                if (firstWritable >= 0) {
                    throw error("device-readable buffer after a device-writable one", index);
                }
                readableBytes += length;
            }
            addresses[count] = address;
            lengths[count] = length;
            count++;
            if ((flags & F_NEXT) == 0) {
                break;
            }
            if (next >= entries) {
                throw error("next index " + next + " is past the table of " + entries, index);
            }
            index = next;
        }
        if (firstWritable < 0) {
            firstWritable = count;
        }
    }

    private VirtioProtocolException error(String what, int index) {
        return new VirtioProtocolException("queue " + queueIndex + ": descriptor " + index + " of the chain from "
                + head + ": " + what);
    }

    /** The head descriptor's index: what goes on the used ring. */
    public int head() {
        return head;
    }

    /** The number of buffers (an indirect descriptor counts as the buffers of its table). */
    public int count() {
        return count;
    }

    /** Buffer {@code i}'s guest-physical address; the buffer lies in guest RAM. */
    public long address(int i) {
        return addresses[i];
    }

    /** Buffer {@code i}'s length in bytes (0 to 2^32 - 1). */
    public long length(int i) {
        return lengths[i];
    }

    /** The index of the first device-writable buffer ({@link #count()} when there is none). */
    public int firstWritable() {
        return firstWritable;
    }

    /** Whether buffer {@code i} is device-writable. */
    public boolean isWritable(int i) {
        return i >= firstWritable;
    }

    /** The total length of the device-readable buffers. */
    public long readableBytes() {
        return readableBytes;
    }

    /** The total length of the device-writable buffers. */
    public long writableBytes() {
        return writableBytes;
    }

    /**
     * Reads {@code size} (1, 2, 4 or 8) bytes, little-endian, at {@code offset} into the readable bytes; the
     * caller has checked {@code offset + size <= readableBytes()}.
     */
    public long readReadable(long offset, int size) {
        long off = offset;
        for (int i = 0; i < firstWritable; i++) {
            long len = lengths[i];
            if (off < len) {
                if (len - off >= size) {
                    try {
                        return memory.read(addresses[i] + off, size); // the usual case: one buffer holds it all
                    } catch (GuestMemoryException e) {
                        // The buffer spans two adjacent RAM regions at this point: byte by byte below.
                    }
                }
                long value = 0;
                for (int b = 0; b < size; b++) {
                    value |= (readableByte(offset + b) & 0xFFL) << (8 * b);
                }
                return value;
            }
            off -= len;
        }
        throw new IndexOutOfBoundsException("offset " + offset + " past " + readableBytes + " readable bytes");
    }

    private byte readableByte(long offset) {
        long off = offset;
        for (int i = 0; i < firstWritable; i++) {
            if (off < lengths[i]) {
                return memory.readByte(addresses[i] + off);
            }
            off -= lengths[i];
        }
        throw new IndexOutOfBoundsException("offset " + offset + " past " + readableBytes + " readable bytes");
    }

    /**
     * Writes the low {@code size} (1, 2, 4 or 8) bytes of {@code value}, little-endian, at {@code offset} into
     * the writable bytes; the caller has checked {@code offset + size <= writableBytes()}.
     */
    public void writeWritable(long offset, int size, long value) {
        long off = offset;
        for (int i = firstWritable; i < count; i++) {
            long len = lengths[i];
            if (off < len) {
                if (len - off >= size) {
                    try {
                        memory.write(addresses[i] + off, size, value);
                        return;
                    } catch (GuestMemoryException e) {
                        // The buffer spans two adjacent RAM regions at this point: byte by byte below.
                    }
                }
                for (int b = 0; b < size; b++) {
                    writableByte(offset + b, (byte) (value >>> (8 * b)));
                }
                return;
            }
            off -= len;
        }
        throw new IndexOutOfBoundsException("offset " + offset + " past " + writableBytes + " writable bytes");
    }

    private void writableByte(long offset, byte value) {
        long off = offset;
        for (int i = firstWritable; i < count; i++) {
            if (off < lengths[i]) {
                memory.writeByte(addresses[i] + off, value);
                return;
            }
            off -= lengths[i];
        }
        throw new IndexOutOfBoundsException("offset " + offset + " past " + writableBytes + " writable bytes");
    }
}
