package io.isthmus.vmm.virtio;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.ReentrantLock;

import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestMemoryException;

/**
 * A split virtqueue (virtio 1.2, 2.7), device side: the three areas the driver places in guest RAM, and the
 * device's two positions in them.
 *
 * <pre>
 *   descriptor table (16-aligned)   size x { le64 addr | le32 len | le16 flags | le16 next }
 *   available ring (2-aligned)      le16 flags | le16 idx | le16 ring[size] | le16 used_event
 *   used ring (4-aligned)           le16 flags | le16 idx | { le32 id | le32 len }[size] | le16 avail_event
 * </pre>
 *
 * <p>The driver configures it through the transport (size and the three addresses, then ready); on ready the
 * geometry is checked (size a power of two up to the maximum, alignment, every area wholly in one RAM region)
 * and fixed as slices of guest memory, so every ring access after that goes through a bounds-checked segment.
 * The guest's values are checked on every use: the available index may not move more than {@code size} past the
 * device's position, a head index must lie in the table, and each chain is walked and checked by
 * {@link DescriptorChain}. A failed check throws {@link VirtioProtocolException}.
 *
 * <p>Devices use {@link #pop()}, {@link #push} and, after a batch, {@link #notifyDriver()}. Memory ordering
 * follows the spec's barriers: the available index is read with acquire semantics before the entries it
 * publishes; the used index is written with release semantics after the used entry; a full fence separates
 * publishing the used index (or avail_event) from reading the driver's suppression fields.
 *
 * <p>With {@code VIRTIO_F_EVENT_IDX} negotiated, {@code pop} finding the ring empty publishes avail_event (so the
 * driver notifies only for new work) and {@code notifyDriver} interrupts only when used_event was crossed;
 * without it, the driver's NO_INTERRUPT flag is honoured and notifications are always wanted.
 *
 * <p>Thread-safety: the ring state is guarded by the queue's lock, which the transport holds while a device
 * processes the queue, and while it reconfigures or resets it. Nothing is allocated after construction.
 */
public final class Virtqueue {
    /** The largest size a split queue may have (2.7). */
    public static final int MAX_SIZE = 32768;

    private static final int AVAIL_FLAGS = 0, AVAIL_IDX = 2, AVAIL_RING = 4;
    private static final int USED_IDX = 2, USED_RING = 4, USED_ELEM = 8;
    private static final int AVAIL_F_NO_INTERRUPT = 1;
    private static final VarHandle SHORT = ValueLayout.JAVA_SHORT.varHandle();

    private final int index;
    private final int maxSize;
    private final GuestMemory memory;
    private final VirtioInterrupt interrupt;
    private final DescriptorChain chain;
    private final ReentrantLock lock = new ReentrantLock();

    // Driver-written configuration; changed only while not ready, under the lock.
    private int size;
    private long descAddress, availAddress, usedAddress;
    private volatile boolean ready;
    private volatile int generation;

    // While ready, under the lock.
    private MemorySegment desc, avail, used;
    private boolean eventIdx, indirect;
    private int lastAvail, nextUsed;
    private int signalledUsed;
    private boolean signalledValid;
    private boolean pushed;

    /** Queue {@code index} of at most {@code maxSize} entries (a power of two), signalling through {@code interrupt}. */
    Virtqueue(int index, int maxSize, GuestMemory memory, VirtioInterrupt interrupt) {
        if (maxSize < 1 || maxSize > MAX_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue " + index + ": maximum size " + maxSize
                    + " is not a power of two from 1 to " + MAX_SIZE);
        }
        this.index = index;
        this.maxSize = maxSize;
        this.memory = memory;
        this.interrupt = interrupt;
        this.chain = new DescriptorChain(memory, index, 2 * maxSize);
        this.size = maxSize;
    }

    /** The queue's index on its device. */
    public int index() {
        return index;
    }

    /** The most entries the device supports (QueueNumMax). */
    public int maxSize() {
        return maxSize;
    }

    /** The size the driver chose (QueueNum); the maximum until it writes one. */
    public int size() {
        return size;
    }

    /** Whether the driver has made the queue ready and it passed the checks. */
    public boolean isReady() {
        return ready;
    }

    /**
     * How many times the queue was made ready: a device that completes chains later (from another thread) notes it
     * when it takes a chain and answers only if it is unchanged, since a chain taken from a ring the driver has since
     * turned off (or reset) has nowhere to go on the new one.
     */
    public int generation() {
        return generation;
    }

    /** The guest memory the queue lives in. */
    public GuestMemory memory() {
        return memory;
    }

    void lock() {
        lock.lock();
    }

    /** Takes the queue's lock if no one holds it: for a device completing from its own thread. */
    boolean tryLock() {
        return lock.tryLock();
    }

    void unlock() {
        lock.unlock();
    }

    // ---- configuration, by the transport (under the lock, while not ready) ----

    void setSize(int size) {
        this.size = size;
    }

    void setDescAddress(long address) {
        descAddress = address;
    }

    void setAvailAddress(long address) {
        availAddress = address;
    }

    void setUsedAddress(long address) {
        usedAddress = address;
    }

    long descAddress() {
        return descAddress;
    }

    long availAddress() {
        return availAddress;
    }

    long usedAddress() {
        return usedAddress;
    }

    /**
     * The driver wrote QueueReady = 1: checks the geometry and fixes the areas as slices of guest RAM, the
     * device's positions at 0 (2.7.13.1 and the queue's initial state).
     */
    void enable() {
        if (size < 1 || size > maxSize || Integer.bitCount(size) != 1) {
            throw new VirtioProtocolException("queue " + index + ": size " + size
                    + " is not a power of two from 1 to " + maxSize);
        }
        MemorySegment d = area("descriptor table", descAddress, 16L * size, 16);
        MemorySegment a = area("available ring", availAddress, AVAIL_RING + 2L * size + 2, 2);
        MemorySegment u = area("used ring", usedAddress, USED_RING + (long) USED_ELEM * size + 2, 4);
        desc = d;
        avail = a;
        used = u;
        lastAvail = 0;
        nextUsed = 0;
        signalledUsed = 0;
        signalledValid = false;
        pushed = false;
        generation++;
        ready = true;
    }

    private MemorySegment area(String what, long address, long length, int alignment) {
        if ((address & (alignment - 1)) != 0) {
            throw new VirtioProtocolException("queue " + index + ": " + what + " at 0x" + Long.toHexString(address)
                    + " is not " + alignment + "-byte aligned");
        }
        try {
            return memory.slice(address, length);
        } catch (GuestMemoryException e) {
            throw new VirtioProtocolException("queue " + index + ": " + what + " at 0x" + Long.toHexString(address)
                    + " of " + length + " bytes is outside guest RAM");
        }
    }

    /** Applies the negotiated ring features; at DRIVER_OK, for every queue. */
    void applyFeatures(long features) {
        eventIdx = (features & Virtio.bit(Virtio.F_EVENT_IDX)) != 0;
        indirect = (features & Virtio.bit(Virtio.F_INDIRECT_DESC)) != 0;
    }

    /** Back to the reset state: not ready, no areas, the maximum size. */
    void reset() {
        ready = false;
        desc = avail = used = null;
        size = maxSize;
        descAddress = availAddress = usedAddress = 0;
        eventIdx = indirect = false;
        lastAvail = nextUsed = signalledUsed = 0;
        signalledValid = pushed = false;
    }

    /** The driver wrote QueueReady = 0: the queue stops; its configuration may change again. */
    void disable() {
        ready = false;
        desc = avail = used = null;
    }

    // ---- processing, by the device (under the lock, while ready) ----

    /**
     * The next available descriptor chain, walked and checked, or {@code null} when the driver has made no more
     * available. The returned chain is this queue's flyweight: valid until the next {@code pop}.
     */
    public DescriptorChain pop() {
        MemorySegment a = avail;
        int availIdx = (short) SHORT.getAcquire(a, (long) AVAIL_IDX) & 0xFFFF;
        if (availIdx == lastAvail) {
            if (!eventIdx) {
                return null;
            }
            // Ask to be notified of the next entry, then look once more: the driver may have added one after our
            // read and before it could see the new avail_event (the fence orders the store before the reload).
            used.set(JAVA_SHORT, USED_RING + (long) USED_ELEM * size, (short) lastAvail);
            VarHandle.fullFence();
            availIdx = (short) SHORT.getAcquire(a, (long) AVAIL_IDX) & 0xFFFF;
            if (availIdx == lastAvail) {
                return null;
            }
        }
        int pending = (availIdx - lastAvail) & 0xFFFF;
        if (pending > size) {
            throw new VirtioProtocolException("queue " + index + ": available index moved from " + lastAvail + " to "
                    + availIdx + ", more than the queue size " + size + " ahead");
        }
        int head = a.get(JAVA_SHORT, AVAIL_RING + 2L * (lastAvail & (size - 1))) & 0xFFFF;
        if (head >= size) {
            throw new VirtioProtocolException("queue " + index + ": available ring entry " + lastAvail
                    + " names descriptor " + head + ", past the queue size " + size);
        }
        lastAvail = (lastAvail + 1) & 0xFFFF;
        chain.load(desc, size, head, indirect, maxSize);
        return chain;
    }

    /** Returns {@code chain} to the driver on the used ring, with {@code written} bytes written into it. */
    public void push(DescriptorChain chain, long written) {
        push(chain.head(), written);
    }

    /**
     * Returns the chain whose head descriptor is {@code head} (one that {@link #pop()} returned and that was not pushed
     * since): for a device that completes chains after the flyweight moved on.
     */
    public void push(int head, long written) {
        int slot = nextUsed & (size - 1);
        long at = USED_RING + (long) USED_ELEM * slot;
        used.set(JAVA_INT, at, head);
        used.set(JAVA_INT, at + 4, (int) Math.min(written, 0xFFFF_FFFFL));
        nextUsed = (nextUsed + 1) & 0xFFFF;
        SHORT.setRelease(used, (long) USED_IDX, (short) nextUsed);
        pushed = true;
    }

    /**
     * After a batch of {@link #push}es: sends a used buffer notification unless the driver suppressed it
     * (used_event with EVENT_IDX, else the NO_INTERRUPT flag). Does nothing when nothing was pushed.
     */
    public void notifyDriver() {
        if (!pushed) {
            return;
        }
        pushed = false;
        VarHandle.fullFence();
        boolean notify;
        if (eventIdx) {
            int usedEvent = avail.get(JAVA_SHORT, AVAIL_RING + 2L * size) & 0xFFFF;
            int previous = signalledUsed;
            boolean valid = signalledValid;
            signalledUsed = nextUsed;
            signalledValid = true;
            // vring_need_event: notify when used_event lies in [previous, nextUsed).
            notify = !valid || ((nextUsed - usedEvent - 1) & 0xFFFF) < ((nextUsed - previous) & 0xFFFF);
        } else {
            notify = (avail.get(JAVA_SHORT, AVAIL_FLAGS) & AVAIL_F_NO_INTERRUPT) == 0;
        }
        if (notify) {
            interrupt.usedBuffer(index);
        }
    }
}
