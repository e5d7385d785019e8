package io.isthmus.vmm.pci;

import io.isthmus.sys.EventFd;

import java.util.ArrayList;
import java.util.List;

/**
 * An {@link MsiRouter} that records what KVM would be told: each vector's current route, and each trigger with
 * the route it found (null: no route, so KVM injects nothing).
 */
final class FakeMsiRouter implements MsiRouter {
    record Route(long address, int data) { }

    final List<Vector> vectors = new ArrayList<>();

    @Override
    public synchronized MsiVector allocate(String owner) {
        Vector v = new Vector(48 + vectors.size(), owner);
        vectors.add(v);
        return v;
    }

    /** The vector allocated {@code i}-th. */
    Vector get(int i) {
        return vectors.get(i);
    }

    static final class Vector implements MsiVector {
        final int gsi;
        final String owner;
        Route route;
        /** One entry per trigger: the route it was delivered to, or null when it had none. */
        final List<Route> delivered = new ArrayList<>();
        int routeChanges;
        boolean closed;

        Vector(int gsi, String owner) {
            this.gsi = gsi;
            this.owner = owner;
        }

        @Override
        public int gsi() {
            return gsi;
        }

        @Override
        public EventFd eventFd() {
            return null;
        }

        @Override
        public void route(long address, int data) {
            Route r = new Route(address, data);
            if (!r.equals(route)) {
                routeChanges++;
            }
            route = r;
        }

        @Override
        public void unroute() {
            if (route != null) {
                routeChanges++;
            }
            route = null;
        }

        @Override
        public void trigger() {
            delivered.add(route);
        }

        @Override
        public void close() {
            closed = true;
            route = null;
        }
    }
}
