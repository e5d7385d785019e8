package io.isthmus.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_cpuid2;
import io.isthmus.bindings.kvm.kvm_cpuid_entry2;

/**
 * A CPUID table ({@code struct kvm_cpuid2} with its entries) in native memory: what
 * {@link Kvm#supportedCpuid()} returns and {@link Vcpu#setCpuid2(Cpuid)} takes.
 *
 * <p>Entries can be read and edited in place before handing the table to a vCPU. GC-reclaimed; not thread-safe.
 */
public final class Cpuid {
    static final long HEADER = kvm_cpuid2.sizeof();
    static final long ENTRY = kvm_cpuid_entry2.sizeof();

    private final MemorySegment s;

    Cpuid(int capacity) {
        this.s = Arena.ofAuto().allocate(HEADER + ENTRY * capacity, 8);
        kvm_cpuid2.nent(s, capacity);
    }

    /** A copy of {@code other} with room for {@code capacity} entries. */
    public static Cpuid copyOf(Cpuid other, int capacity) {
        Cpuid c = new Cpuid(capacity);
        int n = Math.min(other.size(), capacity);
        MemorySegment.copy(other.s, 0, c.s, 0, HEADER + ENTRY * n);
        kvm_cpuid2.nent(c.s, n);
        return c;
    }

    MemorySegment segment() {
        return s;
    }

    /** The number of entries. */
    public int size() {
        return kvm_cpuid2.nent(s);
    }

    private MemorySegment entry(int i) {
        if (i < 0 || i >= size()) {
            throw new IndexOutOfBoundsException("CPUID entry " + i + " of " + size());
        }
        return s.asSlice(HEADER + ENTRY * i, ENTRY);
    }

    public int function(int i) { return kvm_cpuid_entry2.function(entry(i)); }
    public int index(int i) { return kvm_cpuid_entry2.index(entry(i)); }
    public int flags(int i) { return kvm_cpuid_entry2.flags(entry(i)); }
    public int eax(int i) { return kvm_cpuid_entry2.eax(entry(i)); }
    public int ebx(int i) { return kvm_cpuid_entry2.ebx(entry(i)); }
    public int ecx(int i) { return kvm_cpuid_entry2.ecx(entry(i)); }
    public int edx(int i) { return kvm_cpuid_entry2.edx(entry(i)); }

    /** Overwrites the four result registers of entry {@code i}. */
    public void set(int i, int eax, int ebx, int ecx, int edx) {
        MemorySegment e = entry(i);
        kvm_cpuid_entry2.eax(e, eax);
        kvm_cpuid_entry2.ebx(e, ebx);
        kvm_cpuid_entry2.ecx(e, ecx);
        kvm_cpuid_entry2.edx(e, edx);
    }

    /** The position of the entry for leaf {@code function}, sub-leaf {@code index} (ignored if not indexed), or -1. */
    public int find(int function, int index) {
        for (int i = 0; i < size(); i++) {
            MemorySegment e = entry(i);
            if (kvm_cpuid_entry2.function(e) == function
                    && ((kvm_cpuid_entry2.flags(e) & 1) == 0 || kvm_cpuid_entry2.index(e) == index)) {
                return i;
            }
        }
        return -1;
    }
}
