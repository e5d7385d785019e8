package io.isthmus.vmm.machine;

import io.isthmus.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Links, on a helper thread, the native calls the vCPU thread will make first (signal-mask set-up, gettid,
 * sigtimedwait, the page size), while the main thread links and makes its own (open, ioctl, mmap). Linking a
 * downcall spins method handles for tens of milliseconds each, which the AOT cache cannot hold; on two or more
 * cores doing half of them in parallel takes that much off the VMM's startup. Every call here is harmless: an
 * empty mask blocked, an empty set waited on for zero time. Fire and forget.
 */
final class Prelink {
    private Prelink() {}

    static void start() {
        Thread t = new Thread(Prelink::run, "prelink");
        t.setDaemon(true);
        t.start();
    }

    private static void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(Libc.sigsetSize(), 8);
            MemorySegment zero = arena.allocate(16, 8);
            Libc.sigemptyset(set);
            Libc.sigaddset(set, 40);
            Libc.sigemptyset(set);
            Libc.pthreadSigmask(Libc.SIG_BLOCK, set, MemorySegment.NULL);
            Libc.gettid();
            Libc.sigtimedwaitRaw(set, zero);
            Libc.pageSize();
        } catch (RuntimeException e) {
            // Only a head start: the vCPU thread links whatever is left.
        }
    }
}
