package io.isthmus.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Memory mappings as {@link MemorySegment}s whose lifetime follows an {@link Arena}: the segment is sized to
 * the mapping, so no access can leave it, and closing the arena unmaps it.
 *
 * <p>Stateless; thread-safety of the returned segment is the arena's (shared or confined).
 */
public final class Mmap {
    private Mmap() {}

    /**
     * Maps {@code length} bytes of {@code fd} at {@code offset}.
     *
     * @param arena owns the mapping: closing it calls {@code munmap}
     * @param what  describes the mapping in error messages, e.g. {@code "kvm_run of kvm-vcpu 0"}
     */
    public static MemorySegment map(Arena arena, Fd fd, long offset, long length, int prot, int flags, String what) {
        if (length <= 0) {
            throw new IllegalArgumentException("mmap " + what + ": length must be positive, got " + length);
        }
        MemorySegment base = Libc.mmap(length, prot, flags, fd.get(), offset, what + " (" + length + " bytes of "
                + fd.name() + " at offset 0x" + Long.toHexString(offset) + ")");
        return own(arena, base, length);
    }

    /**
     * Maps {@code length} bytes of the descriptor number {@code fd}, which the caller owns and keeps open for
     * the call (the mapping itself outlives a later close of the descriptor, as mmap does).
     *
     * @param arena owns the mapping: closing it calls {@code munmap}
     * @param what  describes the mapping in error messages, e.g. {@code "BAR0 of vfio 0000:00:02.0"}
     */
    public static MemorySegment map(Arena arena, int fd, long offset, long length, int prot, int flags, String what) {
        if (length <= 0) {
            throw new IllegalArgumentException("mmap " + what + ": length must be positive, got " + length);
        }
        MemorySegment base = Libc.mmap(length, prot, flags, fd, offset, what + " (" + length + " bytes at offset 0x"
                + Long.toHexString(offset) + ")");
        return own(arena, base, length);
    }

    /** Maps {@code length} bytes of anonymous memory ({@code MAP_ANONYMOUS} is added to {@code flags}). */
    public static MemorySegment anonymous(Arena arena, long length, int prot, int flags, String what) {
        if (length <= 0) {
            throw new IllegalArgumentException("mmap " + what + ": length must be positive, got " + length);
        }
        MemorySegment base = Libc.mmap(length, prot, flags | Libc.MAP_ANONYMOUS, -1, 0,
                what + " (" + length + " anonymous bytes)");
        return own(arena, base, length);
    }

    private static MemorySegment own(Arena arena, MemorySegment base, long length) {
        long address = base.address();
        // The cleanup runs once, when the arena closes; munmap of a range we mapped cannot fail short of a bug.
        return base.reinterpret(length, arena, ignored -> Libc.munmapRaw(address, length));
    }
}
