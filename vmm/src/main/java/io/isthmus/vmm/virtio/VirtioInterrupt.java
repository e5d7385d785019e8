package io.isthmus.vmm.virtio;

/**
 * How a device reaches its driver: a used buffer notification for a queue, or a configuration change
 * notification. The virtio-mmio transport implements it by setting InterruptStatus and asserting its interrupt
 * line; another transport, or an irqfd, can implement it without the devices noticing.
 *
 * <p>Implementations are thread-safe and allocate nothing.
 */
public interface VirtioInterrupt {

    /** The device has put buffers on queue {@code queueIndex}'s used ring and the driver asked to hear of it. */
    void usedBuffer(int queueIndex);

    /** The device's configuration space (or its status: DEVICE_NEEDS_RESET) changed. */
    void configChanged();
}
