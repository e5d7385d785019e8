package io.isthmus.vmm;

import io.isthmus.sys.Libc;

/**
 * Startup work done on a helper thread as the process starts, while the main thread parses the command line and
 * reads the kernel image: linking the VMM's one native downcall (libc's {@code syscall}, which every system call
 * goes through). Linking spins method handles and a stub class for ~20 ms that the AOT cache cannot hold; on two
 * or more cores this overlaps with the main thread instead of following it, and when the main thread gets there
 * first it waits for the class initialisation in progress rather than repeating it. Fire and forget: a failure
 * here is met again, and reported, by the main thread. (The kvm structs need no such head start: the boot path
 * reads them through literal offsets, {@code io.isthmus.kvm.KvmAbi}, not the generated layout classes.)
 */
final class Prelink {
    private Prelink() {}

    static void start() {
        daemon("prelink-syscall", Libc::getpid);
    }

    private static void daemon(String name, Runnable work) {
        Thread t = new Thread(() -> {
            try {
                work.run();
            } catch (RuntimeException | LinkageError e) {
                // Only a head start.
            }
        }, name);
        t.setDaemon(true);
        t.start();
    }
}
