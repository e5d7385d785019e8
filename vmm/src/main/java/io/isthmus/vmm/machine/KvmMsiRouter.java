package io.isthmus.vmm.machine;

import io.isthmus.kvm.Vm;
import io.isthmus.sys.EventFd;
import io.isthmus.vmm.pci.MsiRouter;
import io.isthmus.vmm.pci.MsiVector;

import java.util.BitSet;

/**
 * MSI and MSI-X vectors as KVM delivers them without an exit: each vector is a GSI of the VM's routing table above
 * the IOAPICs' pins (from {@link Interrupts#IOAPIC_GSIS}) with an eventfd assigned to it as an irqfd
 * ({@code KVM_IRQFD}); its route is an MSI route in {@link GsiRoutes}. Signalling the eventfd (a passthrough
 * device's VFIO interrupt, or {@link MsiVector#trigger()}) makes the kernel inject the routed message.
 *
 * <p>Lifetime: the machine's; vectors are closed by their functions before the VM. Thread-safe.
 */
final class KvmMsiRouter implements MsiRouter {
    private final Vm vm;
    private final GsiRoutes routes;
    private final BitSet taken = new BitSet();

    KvmMsiRouter(Vm vm, GsiRoutes routes) {
        this.vm = vm;
        this.routes = routes;
    }

    @Override
    public MsiVector allocate(String owner) {
        int gsi;
        synchronized (taken) {
            gsi = taken.nextClearBit(Interrupts.IOAPIC_GSIS);
            if (gsi >= routes.size()) {
                throw new IllegalStateException("no GSI left for " + owner + ": KVM's routing table has "
                        + routes.size() + " (" + Interrupts.IOAPIC_GSIS + " for the IOAPICs)");
            }
            taken.set(gsi);
        }
        EventFd fd = null;
        try {
            fd = EventFd.create(0, "irqfd gsi " + gsi + " (" + owner + ")");
            vm.assignIrqfd(fd, gsi);
            return new Vector(gsi, fd);
        } catch (RuntimeException e) {
            if (fd != null) {
                fd.close();
            }
            synchronized (taken) {
                taken.clear(gsi);
            }
            throw e;
        }
    }

    private final class Vector implements MsiVector {
        private final int gsi;
        private final EventFd fd;
        private boolean closed;

        Vector(int gsi, EventFd fd) {
            this.gsi = gsi;
            this.fd = fd;
        }

        @Override
        public int gsi() {
            return gsi;
        }

        @Override
        public EventFd eventFd() {
            return fd;
        }

        @Override
        public void route(long address, int data) {
            routes.set(gsi, address, data, true);
        }

        @Override
        public void unroute() {
            routes.set(gsi, 0, 0, false);
        }

        @Override
        public void trigger() {
            fd.signal(1);
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                unroute();
                if (!vm.isClosed()) {
                    vm.deassignIrqfd(fd, gsi);
                }
            } finally {
                fd.close();
                synchronized (taken) {
                    taken.clear(gsi);
                }
            }
        }
    }
}
