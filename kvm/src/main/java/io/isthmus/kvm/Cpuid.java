package io.isthmus.kvm;

import java.lang.foreign.Arena;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * A CPUID table ({@code struct kvm_cpuid2} with its entries) in native memory: what
 * {@link Kvm#supportedCpuid()} returns and {@link Vcpu#setCpuid2(Cpuid)} takes.
 *
 * <p>Entries can be read and edited in place before handing the table to a vCPU. GC-reclaimed; not thread-safe.
 */
public final class Cpuid {
    static final long HEADER = KvmAbi.CPUID2_SIZE;
    static final long ENTRY = KvmAbi.CPUID_ENTRY2_SIZE;

    private final MemorySegment s;

    Cpuid(int capacity) {
        this.s = Arena.ofAuto().allocate(HEADER + ENTRY * capacity, 8);
        s.set(JAVA_INT, KvmAbi.CPUID2_NENT, capacity);
    }

    /** A copy of {@code other} with room for {@code capacity} entries. */
    public static Cpuid copyOf(Cpuid other, int capacity) {
        Cpuid c = new Cpuid(capacity);
        int n = Math.min(other.size(), capacity);
        MemorySegment.copy(other.s, 0, c.s, 0, HEADER + ENTRY * n);
        c.s.set(JAVA_INT, KvmAbi.CPUID2_NENT, n);
        return c;
    }

    MemorySegment segment() {
        return s;
    }

    /**
     * Fills every entry with all-ones bytes, which no CPUID entry the kernel writes has (its flags field has
     * reserved bits), for {@link #trimUnusedEntries} to find where the kernel stopped writing.
     */
    void fillUnusedEntries() {
        s.asSlice(HEADER).fill((byte) 0xff);
    }

    /** Sets the entry count to the number of entries before the first that {@link #fillUnusedEntries} left. */
    void trimUnusedEntries() {
        int n = size();
        for (int i = 0; i < n; i++) {
            if (isFiller(HEADER + ENTRY * i)) {
                s.set(JAVA_INT, KvmAbi.CPUID2_NENT, i);
                return;
            }
        }
    }

    private boolean isFiller(long offset) {
        for (long b = 0; b < ENTRY; b += 4) {
            if (s.get(JAVA_INT, offset + b) != -1) {
                return false;
            }
        }
        return true;
    }

    /** The number of entries. */
    public int size() {
        return s.get(JAVA_INT, KvmAbi.CPUID2_NENT);
    }

    /** The offset of entry {@code i} in the table. */
    private long entry(int i) {
        if (i < 0 || i >= size()) {
            throw new IndexOutOfBoundsException("CPUID entry " + i + " of " + size());
        }
        return HEADER + ENTRY * i;
    }

    public int function(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_FUNCTION); }
    public int index(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_INDEX); }
    public int flags(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_FLAGS); }
    public int eax(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_EAX); }
    public int ebx(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_EBX); }
    public int ecx(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_ECX); }
    public int edx(int i) { return s.get(JAVA_INT, entry(i) + KvmAbi.CPUID_ENTRY2_EDX); }

    /** Overwrites the four result registers of entry {@code i}. */
    public void set(int i, int eax, int ebx, int ecx, int edx) {
        long e = entry(i);
        s.set(JAVA_INT, e + KvmAbi.CPUID_ENTRY2_EAX, eax);
        s.set(JAVA_INT, e + KvmAbi.CPUID_ENTRY2_EBX, ebx);
        s.set(JAVA_INT, e + KvmAbi.CPUID_ENTRY2_ECX, ecx);
        s.set(JAVA_INT, e + KvmAbi.CPUID_ENTRY2_EDX, edx);
    }

    /** The position of the entry for leaf {@code function}, sub-leaf {@code index} (ignored if not indexed), or -1. */
    public int find(int function, int index) {
        for (int i = 0; i < size(); i++) {
            if (function(i) == function && ((flags(i) & 1) == 0 || index(i) == index)) {
                return i;
            }
        }
        return -1;
    }
}
