/**
 * Safe, small types over the KVM ioctls, each made by its parent: {@link io.isthmus.kvm.Kvm} opens
 * {@code /dev/kvm}.
 */
package io.isthmus.kvm;
