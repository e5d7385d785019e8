package io.isthmus.vmm.virtio;

/**
 * Numbers from the virtio 1.2 specification that more than one class here needs: device status bits (2.1),
 * reserved feature bits (6), device IDs (5).
 *
 * <p>Constants only; never instantiated.
 */
public final class Virtio {
    /** Device status (2.1): the driver has noticed the device. */
    public static final int STATUS_ACKNOWLEDGE = 1;
    /** Device status: the driver knows how to drive the device. */
    public static final int STATUS_DRIVER = 2;
    /** Device status: the driver is set up and ready to drive the device. */
    public static final int STATUS_DRIVER_OK = 4;
    /** Device status: the driver has acknowledged the features it understands; negotiation is complete. */
    public static final int STATUS_FEATURES_OK = 8;
    /** Device status: the device hit an error it cannot recover from; the driver must reset it. */
    public static final int STATUS_DEVICE_NEEDS_RESET = 0x40;
    /** Device status: the driver gave up on the device. */
    public static final int STATUS_FAILED = 0x80;

    /** Feature bit 28: descriptors may point at tables of further descriptors (2.7.5.3). */
    public static final int F_INDIRECT_DESC = 28;
    /** Feature bit 29: the used_event and avail_event fields suppress notifications (2.7.7, 2.7.10). */
    public static final int F_EVENT_IDX = 29;
    /** Feature bit 32: the device complies with virtio 1.x (no legacy interface). */
    public static final int F_VERSION_1 = 32;

    /** Device ID of a block device (5.2). */
    public static final int ID_BLOCK = 2;
    /** Device ID of an entropy source (5.4). */
    public static final int ID_ENTROPY = 4;

    private Virtio() {}

    /** The mask of feature bit {@code bit}. */
    public static long bit(int bit) {
        return 1L << bit;
    }
}
