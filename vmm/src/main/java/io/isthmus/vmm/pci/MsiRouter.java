package io.isthmus.vmm.pci;

/**
 * Where a function's message-signalled interrupts go: the machine hands out {@link MsiVector}s, each a GSI of its
 * own in KVM's routing table (from 48 up, above the IOAPICs' pins) with an eventfd wired to it by an irqfd, so an
 * interrupt reaches the guest from a signalled eventfd without Java on the path: a passthrough device's own
 * (VFIO signals the eventfd) or an emulated device's ({@link MsiVector#trigger()}).
 *
 * <p>Thread-safety: implementations are thread-safe.
 */
public interface MsiRouter {
    /**
     * A new vector for {@code owner} (a name for messages), without a route until {@link MsiVector#route} gives it
     * one.
     *
     * @throws IllegalStateException when the routing table has no free GSI left
     */
    MsiVector allocate(String owner);

    /**
     * {@code count} new vectors, named {@code prefix + " " + i}, all or none: when one cannot be had, those already
     * taken are closed before the failure is thrown.
     *
     * @throws IllegalStateException when the routing table has too few free GSIs left
     */
    default MsiVector[] allocate(int count, String prefix) {
        MsiVector[] v = new MsiVector[count];
        try {
            for (int i = 0; i < count; i++) {
                v[i] = allocate(prefix + " " + i);
            }
        } catch (RuntimeException e) {
            for (MsiVector x : v) {
                if (x != null) {
                    x.close();
                }
            }
            throw e;
        }
        return v;
    }
}
