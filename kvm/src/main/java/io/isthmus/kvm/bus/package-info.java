/**
 * I/O buses: {@link io.isthmus.kvm.bus.PioBus} and {@link io.isthmus.kvm.bus.MmioBus} map non-overlapping address
 * ranges to {@link io.isthmus.kvm.bus.BusDevice}s; lock-free, allocation-free lookup.
 */
package io.isthmus.kvm.bus;
