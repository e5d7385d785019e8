/**
 * x86 CPU mode setup for loaders: {@link io.isthmus.kvm.x86.CpuModes} puts a vCPU in real mode, 32-bit flat
 * protected mode, or 64-bit long mode on identity page tables.
 */
package io.isthmus.kvm.x86;
