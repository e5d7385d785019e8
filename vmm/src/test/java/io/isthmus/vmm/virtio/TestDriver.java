package io.isthmus.vmm.virtio;

import static io.isthmus.vmm.virtio.VirtioMmioTransport.*;

import java.util.ArrayList;
import java.util.List;

import io.isthmus.kvm.memory.GuestMemory;

/**
 * The driver side of a virtio-mmio device, written the way Linux's virtio_mmio and virtio_ring drive one: it
 * resets the device, negotiates features, lays out a split queue in guest RAM ({@link GuestMemory#anonymous}, no
 * KVM), adds descriptor chains to the available ring, notifies, and reads the used ring and the interrupt state.
 * Also writes raw descriptors and ring fields for the hostile cases.
 *
 * <p>The ring operations ({@link #desc}, {@link #publish}, {@link #kick}, {@link #nextUsed}) allocate nothing, so
 * an allocation test can run them in its measured window. Not thread-safe.
 */
final class TestDriver implements AutoCloseable {
    static final long RAM = 16L << 20;
    static final long DESC = 0x1000, AVAIL = 0x3000, USED = 0x4000;
    /** Where tests put indirect tables and data buffers. */
    static final long TABLES = 0x10000, DATA = 0x100000;

    final GuestMemory memory;
    final VirtioMmioTransport transport;
    final List<String> errors = new ArrayList<>();
    /** The interrupt line's level, how many times it went high, and how many times it was set high at all. */
    boolean line;
    int raised;
    int highs;

    int size;
    int availIdx;
    int usedSeen;
    private int nextFree;

    TestDriver(VirtioDevice device) {
        this.memory = GuestMemory.anonymous(RAM);
        this.transport = new VirtioMmioTransport(device, memory, level -> {
            if (level && !line) {
                raised++;
            }
            if (level) {
                highs++;
            }
            line = level;
        }, errors::add);
    }

    int reg(int offset) {
        return (int) transport.read(offset, 4);
    }

    void reg(int offset, int value) {
        transport.write(offset, 4, value & 0xFFFF_FFFFL);
    }

    long deviceFeatures() {
        reg(DEVICE_FEATURES_SEL, 1);
        long high = reg(DEVICE_FEATURES) & 0xFFFF_FFFFL;
        reg(DEVICE_FEATURES_SEL, 0);
        return high << 32 | (reg(DEVICE_FEATURES) & 0xFFFF_FFFFL);
    }

    /** Reset, ACKNOWLEDGE, DRIVER, the features, FEATURES_OK; returns whether FEATURES_OK stuck. */
    boolean negotiate(long features) {
        reg(STATUS, 0);
        reg(STATUS, Virtio.STATUS_ACKNOWLEDGE);
        reg(STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        reg(DRIVER_FEATURES_SEL, 1);
        reg(DRIVER_FEATURES, (int) (features >>> 32));
        reg(DRIVER_FEATURES_SEL, 0);
        reg(DRIVER_FEATURES, (int) features);
        reg(STATUS, reg(STATUS) | Virtio.STATUS_FEATURES_OK);
        return (reg(STATUS) & Virtio.STATUS_FEATURES_OK) != 0;
    }

    /** Queue 0 with {@code size} entries at the standard addresses, then QueueReady (as vm_setup_vq). */
    void setupQueue(int size) {
        setupQueue(size, DESC, AVAIL, USED);
    }

    void setupQueue(int size, long desc, long avail, long used) {
        this.size = size;
        availIdx = 0;
        usedSeen = 0;
        nextFree = 0;
        reg(QUEUE_SEL, 0);
        reg(QUEUE_NUM, size);
        reg(QUEUE_DESC_LOW, (int) desc);
        reg(QUEUE_DESC_HIGH, (int) (desc >>> 32));
        reg(QUEUE_DRIVER_LOW, (int) avail);
        reg(QUEUE_DRIVER_HIGH, (int) (avail >>> 32));
        reg(QUEUE_DEVICE_LOW, (int) used);
        reg(QUEUE_DEVICE_HIGH, (int) (used >>> 32));
        reg(QUEUE_READY, 1);
    }

    void driverOk() {
        reg(STATUS, reg(STATUS) | Virtio.STATUS_DRIVER_OK);
    }

    /** The whole bring-up: negotiate {@code features} (must stick), queue 0 at its maximum size, DRIVER_OK. */
    TestDriver start(long features) {
        if (!negotiate(features)) {
            throw new AssertionError("features refused: " + errors);
        }
        reg(QUEUE_SEL, 0);
        setupQueue(reg(QUEUE_NUM_MAX));
        driverOk();
        return this;
    }

    /** Every feature the device offers. */
    TestDriver start() {
        return start(deviceFeatures());
    }

    // ---- ring operations (allocation-free) ----

    /** Writes descriptor {@code i} of the queue's table. */
    void desc(int i, long addr, int len, int flags, int next) {
        descAt(DESC, i, addr, len, flags, next);
    }

    /** Writes descriptor {@code i} of a table at {@code table} (an indirect one). */
    void descAt(long table, int i, long addr, int len, int flags, int next) {
        long at = table + 16L * i;
        memory.writeLong(at, addr);
        memory.writeInt(at + 8, len);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    /** A free descriptor index (round robin: tests keep fewer than {@code size} requests outstanding). */
    int alloc() {
        int i = nextFree;
        nextFree = (nextFree + 1) % size;
        return i;
    }

    /** Puts {@code head} on the available ring and publishes it (the index store after the entry). */
    void publish(int head) {
        memory.writeShort(AVAIL + 4 + 2L * (availIdx % size), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        memory.writeShort(AVAIL + 2, (short) availIdx);
    }

    void setAvailIdx(int idx) {
        memory.writeShort(AVAIL + 2, (short) idx);
    }

    void kick() {
        reg(QUEUE_NOTIFY, 0);
    }

    /** The used ring's index. */
    int usedIdx() {
        return memory.readShort(USED + 2) & 0xFFFF;
    }

    /** Whether the used ring has an entry the driver has not seen. */
    boolean hasUsed() {
        return usedIdx() != usedSeen;
    }

    /** Takes the next used entry: returns its id; {@link #lastUsedLength} gives its length. */
    int nextUsed() {
        if (!hasUsed()) {
            throw new AssertionError("no used buffer");
        }
        long at = USED + 4 + 8L * (usedSeen % size);
        lastUsedLength = memory.readInt(at + 4);
        usedSeen = (usedSeen + 1) & 0xFFFF;
        return memory.readInt(at);
    }

    int lastUsedLength;

    /** vm_interrupt: reads InterruptStatus and acknowledges it; returns it. */
    int acknowledge() {
        int s = reg(INTERRUPT_STATUS);
        reg(INTERRUPT_ACK, s);
        return s;
    }

    /** Sets used_event (EVENT_IDX) in the available ring. */
    void usedEvent(int idx) {
        memory.writeShort(AVAIL + 4 + 2L * size, (short) idx);
    }

    /** avail_event, written by the device (EVENT_IDX). */
    int availEvent() {
        return memory.readShort(USED + 4 + 8L * size) & 0xFFFF;
    }

    /** Sets the available ring's flags (VRING_AVAIL_F_NO_INTERRUPT = 1). */
    void availFlags(int flags) {
        memory.writeShort(AVAIL, (short) flags);
    }

    boolean broken() {
        return transport.needsReset();
    }

    @Override
    public void close() {
        transport.close();
        memory.close();
    }
}
