/**
 * Guest-physical RAM: {@link io.isthmus.kvm.memory.GuestMemory} (regions of host mappings, bounds-checked
 * little-endian access by guest-physical address, host-side dirty tracking) and
 * {@link io.isthmus.kvm.memory.GuestAddress}.
 */
package io.isthmus.kvm.memory;
