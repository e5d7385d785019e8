package io.isthmus.vmm.demo;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ObjLongConsumer;

import io.isthmus.vmm.vgpu.VgpuHosts;
import io.isthmus.vmm.vgpu.VgpuStats;

/**
 * One KVM machine in this process running the shipped vGPU guest driver ({@code vgpu.elf}, from the jar) with one
 * {@code isthmus-vgpu} on a given engine: microvm, 64 MiB, the driver's command line, its serial output to a
 * listener, isa-debug-exit for the driver's own end. The machine runs on its own platform thread from
 * {@link #start} until {@link #close()} quits it (as QMP {@code quit} does) or the driver ends.
 *
 * <p>Lifetime: {@link #start} to {@link #close()}, which closes once and releases the machine. Thread-safety:
 * {@link #stats()}, {@link #ended()} and {@link #close()} from any thread.
 */
final class PathVm implements AutoCloseable {
    private final String label;
    private final String engine;
    private final DemoVm vm;
    private final SerialLines serial;
    private volatile VgpuStats stats;

    private PathVm(String label, String engine, DemoVm vm, SerialLines serial) {
        this.label = label;
        this.engine = engine;
        this.vm = vm;
        this.serial = serial;
    }

    /**
     * Builds the machine and starts it.
     *
     * @param label  its vGPU's {@code id=}, its name in {@link VgpuHosts#usage}
     * @param engine the vGPU's engine (sim, host or cuda)
     * @param append the driver's command line ({@link GuestWorkload#append})
     * @param lines  gets each line the driver prints, on the UART's output thread, with when it arrived
     * @throws RuntimeException when the machine cannot be made (no /dev/kvm, the engine unavailable), saying why
     */
    static PathVm start(String label, String engine, String append, ObjLongConsumer<String> lines) {
        List<String> args = List.of("-M", "microvm", "-accel", "kvm", "-display", "none", "-m", "64M",
                "-serial", "stdio", "-kernel", "vgpu.elf", "-append", append,
                "-device", "isthmus-vgpu,id=" + label + ",engine=" + engine + ",memory=1M",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4");
        SerialLines serial = new SerialLines(lines);
        DemoVm vm = new DemoVm("vgpu-path-" + label, args, DemoVm.vgpuGuest(), serial);
        vm.start();
        return new PathVm(label, engine, vm, serial);
    }

    /**
     * Waits until the driver has had {@code requests} requests completed (its set-up's included) and returns its
     * device's statistics.
     *
     * @throws IllegalStateException when the machine ends first or it takes longer than {@code timeoutNanos}, with
     *     the driver's last lines
     */
    VgpuStats awaitRequests(long requests, long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (true) {
            VgpuStats s = stats();
            if (s != null && s.snapshot().requests() >= requests) {
                return s;
            }
            if (ended()) {
                throw failure("the VM ended before its driver ran " + requests + " requests");
            }
            if (System.nanoTime() - deadline > 0) {
                throw failure("the VM's driver did not run " + requests + " requests in "
                        + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s");
            }
            Thread.sleep(20);
        }
    }

    /** @return its vGPU's statistics, or null before the driver has activated the device */
    VgpuStats stats() {
        VgpuStats s = stats;
        if (s == null) {
            for (VgpuHosts.Usage u : VgpuHosts.usage(engine)) {
                if (u.label().equals(label) && u.stats() != null) {
                    stats = s = u.stats();
                }
            }
        }
        return s;
    }

    /** @return whether the machine has ended (the driver exited, or it failed) */
    boolean ended() {
        return vm.ended();
    }

    /** An error naming {@code what}, with the machine's messages and the driver's last lines. */
    IllegalStateException failure(String what) {
        String why = vm.ended() ? " (exit status " + vm.status() + ")" : "";
        return new IllegalStateException(what + why + "; its messages: " + vm.report() + "; the driver's last lines:\n"
                + serial.tail());
    }

    /** Quits the machine if it runs, waits for it and releases it; idempotent. */
    @Override
    public synchronized void close() {
        vm.close();
    }
}
