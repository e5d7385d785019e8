package io.isthmus.sched.vgpu;

/**
 * One vGPU's handle space: which allocation (device offset and size) each handle names. A handle is
 *
 * <pre>
 *  63        48 47                 24 23                  0
 * +------------+---------------------+--------------------+
 * | space tag  | generation (1..2^24)| slot (0..capacity) |
 * +------------+---------------------+--------------------+
 * </pre>
 *
 * The tag differs between the vGPUs of one host, so another vGPU's handle fails here as BAD_HANDLE rather than naming
 * one of this vGPU's own allocations (either way it could never reach another vGPU's memory: this table only holds
 * this vGPU's). The generation changes each time a slot is reused, so a freed handle stays dead. Handle 0 is never
 * valid. Allocates nothing after construction.
 *
 * <p>Lifetime: its context's. Thread-safety: none; the scheduler's thread only.
 */
final class HandleTable {
    private static final int SLOT_BITS = 24;
    private static final long SLOT_MASK = (1L << SLOT_BITS) - 1;
    private static final int GEN_MASK = (1 << 24) - 1;

    private final long tag;
    private final long[] offset, size;
    private final int[] generation;
    private final boolean[] live;
    private final int[] free;
    private int freeCount;

    /** @param tag 1 to 65535, distinct among the vGPUs of one host; @param capacity the most live allocations */
    HandleTable(int tag, int capacity) {
        this.tag = (long) (tag & 0xFFFF) << 48;
        offset = new long[capacity];
        size = new long[capacity];
        generation = new int[capacity];
        live = new boolean[capacity];
        free = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            free[i] = capacity - 1 - i;
        }
        freeCount = capacity;
    }

    /** @return a handle for {@code [off, off + bytes)}, or 0 when every slot is taken */
    long add(long off, long bytes) {
        if (freeCount == 0) {
            return 0;
        }
        int s = free[--freeCount];
        int g = (generation[s] + 1) & GEN_MASK;
        generation[s] = g == 0 ? 1 : g;
        offset[s] = off;
        size[s] = bytes;
        live[s] = true;
        return tag | (long) generation[s] << SLOT_BITS | s;
    }

    /** @return the slot {@code handle} names, or -1 when it names no live allocation of this table */
    int slot(long handle) {
        if ((handle & 0xFFFF_0000_0000_0000L) != tag) {
            return -1;
        }
        long s = handle & SLOT_MASK;
        if (s >= live.length || !live[(int) s] || generation[(int) s] != (int) ((handle >>> SLOT_BITS) & GEN_MASK)) {
            return -1;
        }
        return (int) s;
    }

    /** @return slot {@code s}'s device offset */
    long offset(int s) {
        return offset[s];
    }

    /** @return slot {@code s}'s size, bytes */
    long size(int s) {
        return size[s];
    }

    /** Frees slot {@code s} (live); its handle is dead from now on. */
    void remove(int s) {
        live[s] = false;
        free[freeCount++] = s;
    }

    /** @return live allocations */
    int count() {
        return live.length - freeCount;
    }
}
