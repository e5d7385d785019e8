package io.isthmus.vmm.virtio;

import io.isthmus.kvm.memory.GuestMemory;

/**
 * A virtio device behind a transport ({@link VirtioMmioTransport}): what it is, what it offers, its configuration
 * space, and the processing of its queues. The transport does everything the spec gives the transport (registers,
 * feature negotiation, status, queue setup, interrupts); the device sees only negotiated features and ready queues.
 *
 * <p>Lifecycle: made with its backend open; {@link #activate} when the driver sets DRIVER_OK; {@link #queueNotify}
 * for each notification while active; {@link #reset} when the driver writes status 0 or the machine resets, after
 * which it may be activated again; {@link #close} once, when the machine ends.
 *
 * <p>Threading contract (the transport enforces it): {@code activate}, {@code reset} and {@code close} are called
 * while no queue is being processed; {@code queueNotify(i)} is never called concurrently for the same queue
 * (different queues may be processed on different threads), and never before {@code activate} or after
 * {@code reset} until the next {@code activate}. It may be called from a vCPU thread (today: the one that wrote
 * QueueNotify) or from an I/O thread (later: one woken by an ioeventfd), so a device must not assume which.
 * Configuration space reads and writes may come from any vCPU at any time.
 */
public interface VirtioDevice extends AutoCloseable {

    /** The virtio device ID (5): {@link Virtio#ID_BLOCK}, {@link Virtio#ID_ENTROPY}, ... */
    int deviceId();

    /**
     * The device's own feature bits (device-specific bits 0-23, and any reserved bit whose behaviour the device
     * implements). The transport adds the ones it implements: VERSION_1, INDIRECT_DESC and EVENT_IDX.
     */
    long features();

    /** The number of virtqueues. */
    int queueCount();

    /** The most entries queue {@code index} may have (QueueNumMax): a power of two up to 32768. */
    int queueMaxSize(int index);

    /** The size in bytes of the configuration space. */
    int configSize();

    /**
     * Reads {@code size} (1, 2, 4 or 8) bytes, little-endian, at {@code offset} of the configuration space;
     * the transport has checked {@code offset + size <= configSize()}.
     */
    long readConfig(int offset, int size);

    /** Writes the low {@code size} bytes of {@code value} at {@code offset} of the configuration space (checked). */
    void writeConfig(int offset, int size, long value);

    /**
     * The driver set DRIVER_OK with {@code features} negotiated: from now on {@code queues} (indexed by queue index;
     * each ready or not) may be notified.
     *
     * @throws VirtioProtocolException when the driver's setup cannot work (the device is then marked as needing reset)
     */
    void activate(GuestMemory memory, long features, Virtqueue[] queues);

    /**
     * The driver notified queue {@code index} (ready): take its available chains, handle them, put them on the used
     * ring and notify the driver ({@link Virtqueue#notifyDriver()}). Allocates nothing on the way. Runs until the
     * ring is empty: each chain is bounded, but a driver that keeps adding keeps the notifying thread (its own vCPU,
     * today) busy, as in QEMU.
     *
     * @throws VirtioProtocolException when the driver broke the protocol (the transport marks the device broken)
     */
    void queueNotify(int index);

    /** Back to the state before {@link #activate}: forgets the queues and the negotiated features. */
    void reset();

    /** Releases the backend, once; the device is not used again. */
    @Override
    void close();
}
