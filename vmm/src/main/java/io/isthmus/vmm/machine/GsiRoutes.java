package io.isthmus.vmm.machine;

import io.isthmus.kvm.Vm;

/**
 * The VM's GSI routing table as the kernel holds it ({@code KVM_SET_GSI_ROUTING}): one MSI route per GSI that has
 * one. With a split irqchip the IOAPIC pins' routes (GSIs 0-47, mirrored from their redirection entries) are how
 * the kernel learns which vectors are level-triggered, so that their EOIs come back to user space; GSIs above are
 * for devices that signal MSIs through irqfds.
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

    /** How many GSIs the table has. */
    int size() {
        return present.length;
    }
}
