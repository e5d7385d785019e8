package io.isthmus.vmm.machine;

import io.isthmus.kvm.Vm;

/**
 * The VM's GSI routing table as the kernel holds it ({@code KVM_SET_GSI_ROUTING}): one MSI route per GSI that has
 * one. With a split irqchip the IOAPIC pins' routes (GSIs 0-47, mirrored from their redirection entries) are how
 * the kernel learns which vectors are level-triggered, so that their EOIs come back to user space; GSIs above are
 * for devices that signal MSIs through irqfds ({@link KvmMsiRouter}).
 *
 * <p>Every change replaces the whole table in the kernel, which costs an SRCU grace period, so an unchanged route
 * is not sent again. Thread-safe: synchronized (routes change on vCPU threads writing redirection entries).
 */
final class GsiRoutes {
    private final Vm vm;
    private final long[] addresses;
    private final int[] data;
    private final boolean[] present;

    /** A table of {@code gsis} entries, all empty. */
    GsiRoutes(Vm vm, int gsis) {
        this.vm = vm;
        this.addresses = new long[gsis];
        this.data = new int[gsis];
        this.present = new boolean[gsis];
    }

    /** Sets GSI {@code gsi}'s route to the MSI ({@code address}, {@code msiData}), or removes it; installs changes. */
    synchronized void set(int gsi, long address, int msiData, boolean installed) {
        boolean changed = present[gsi] != installed
                || installed && (addresses[gsi] != address || data[gsi] != msiData);
        addresses[gsi] = address;
        data[gsi] = msiData;
        present[gsi] = installed;
        if (changed) {
            vm.setMsiRoutes(addresses, data, present);
        }
    }

    /** {@code KVM_CAP_IRQ_ROUTING}: the VM's limit on routes and GSIs ({@code KVM_MAX_IRQ_ROUTES}). */
    private static final int CAP_IRQ_ROUTING = 25;
    /** The table's size when KVM allows more: 48 IOAPIC pins and 4048 MSI vectors. */
    static final int MAX_GSIS = 4096;

    /**
     * The table size this VM takes: KVM's limit (4096 on Linux 4.10 and later, 1024 before), at most
     * {@link #MAX_GSIS}; the IOAPICs' pins and the rest for MSI and MSI-X vectors.
     */
    static int capacity(Vm vm, int ioapicPins) {
        int max = vm.checkExtension(CAP_IRQ_ROUTING);
        return Math.max(ioapicPins, Math.min(max, MAX_GSIS));
    }

    /** How many GSIs the table has. */
    int size() {
        return present.length;
    }
}
