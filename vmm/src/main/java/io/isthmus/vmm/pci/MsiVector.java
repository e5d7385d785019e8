package io.isthmus.vmm.pci;

import io.isthmus.sys.EventFd;

/**
 * One MSI or MSI-X vector's way into the guest: a GSI whose KVM route is the message the guest programmed, and an
 * eventfd that raises that GSI through an irqfd. The MSI and MSI-X capabilities keep the route equal to the
 * vector's message while the guest has the vector enabled and unmasked, and remove it otherwise, so a signal then
 * injects nothing.
 *
 * <p>Lifetime: from {@link MsiRouter#allocate} to {@link #close()}, the owning function's. Thread-safety: safe
 * from any thread; {@link #trigger()} allocates nothing.
 */
public interface MsiVector extends AutoCloseable {
    /** The GSI in KVM's routing table. */
    int gsi();

    /**
     * The eventfd that raises {@link #gsi()} when signalled: what a passthrough function hands to
     * {@code VFIO_DEVICE_SET_IRQS} for this vector; null from a router without eventfds (a test's).
     */
    EventFd eventFd();

    /** Routes the GSI to the message ({@code address}, {@code data}); replaces a previous route. */
    void route(long address, int data);

    /** Removes the GSI's route: a signal injects nothing until the next {@link #route}. */
    void unroute();

    /** Raises the interrupt once (signals the eventfd). */
    void trigger();

    /** Removes the route and the irqfd and closes the eventfd; once. */
    @Override
    void close();
}
