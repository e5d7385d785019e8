package io.isthmus.vmm;

import io.isthmus.bindings.kvm.kvm_cpuid2;
import io.isthmus.bindings.kvm.kvm_pit_config;
import io.isthmus.bindings.kvm.kvm_regs;
import io.isthmus.bindings.kvm.kvm_run;
import io.isthmus.bindings.kvm.kvm_signal_mask;
import io.isthmus.bindings.kvm.kvm_sregs;
import io.isthmus.bindings.kvm.kvm_userspace_memory_region;
import io.isthmus.bindings.kvm.kvm_vcpu_events;
import io.isthmus.sys.Libc;

/**
 * Startup work done on two helper threads as the process starts, while the main thread parses the command line
 * and reads the kernel image: linking the VMM's one native downcall (libc's {@code syscall}, which every system
 * call goes through), and initialising the generated kvm struct classes a boot uses, in the order it uses them.
 * Both spin method handles — the downcall's stubs, and the array-element var handles the generated classes
 * make in their static initialisers — for tens of milliseconds that the AOT cache cannot hold. On two or more
 * cores this overlaps with the main thread instead of following it; when the main thread gets there first or
 * meanwhile, it waits for the class initialisation in progress rather than repeating it. Fire and forget: a
 * failure here is met again, and reported, by the main thread.
 */
final class Prelink {
    private Prelink() {}

    static void start() {
        daemon("prelink-syscall", Libc::getpid);
        daemon("prelink-layouts", () -> {
            kvm_pit_config.sizeof();
            kvm_userspace_memory_region.sizeof();
            kvm_cpuid2.sizeof();
            kvm_run.sizeof();
            kvm_regs.sizeof();
            kvm_sregs.sizeof();
            kvm_vcpu_events.sizeof();
            kvm_signal_mask.sizeof();
            Libc.sigsetSize();
        });
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
