package io.isthmus.vmm.demo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ObjLongConsumer;

import io.isthmus.vmm.boot.KernelLoader;
import io.isthmus.vmm.config.CommandLine;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.machine.HostStdio;
import io.isthmus.vmm.machine.MicroVm;
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
    private final MicroVm vm;
    private final SerialLines serial;
    private final ByteArrayOutputStream messages;
    private final CompletableFuture<Integer> status = new CompletableFuture<>();
    private volatile VgpuStats stats;
    private boolean closed;

    private PathVm(String label, String engine, MicroVm vm, SerialLines serial, ByteArrayOutputStream messages) {
        this.label = label;
        this.engine = engine;
        this.vm = vm;
        this.serial = serial;
        this.messages = messages;
    }

    /**
     * Builds the machine and starts it.
     *
     * @param label  its vGPU's {@code id=}, its name in {@link VgpuHosts#usage}
     * @param engine the vGPU's engine (sim, host or cuda)
     * @param append the driver's command line ({@link GuestWorkload#append})
     * @param lines  gets each line the driver prints, on the UART's output thread, with when it arrived
     * @throws IllegalStateException when the machine cannot be made (no /dev/kvm, the engine unavailable)
     */
    static PathVm start(String label, String engine, String append, ObjLongConsumer<String> lines) {
        byte[] kernel = DemoVm.vgpuGuest();
        List<String> args = List.of("-M", "microvm", "-accel", "kvm", "-display", "none", "-m", "64M",
                "-serial", "stdio", "-kernel", "vgpu.elf", "-append", append,
                "-device", "isthmus-vgpu,id=" + label + ",engine=" + engine + ",memory=1M",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4");
        VmConfig config;
        try {
            config = ((CommandLine.Run) CommandLine.parse(args.toArray(String[]::new))).config();
        } catch (OptionException e) {
            throw new IllegalStateException("the VM's command line " + args + ": " + e.getMessage(), e);
        }
        SerialLines serial = new SerialLines(lines);
        ByteArrayOutputStream messages = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(messages, true, StandardCharsets.UTF_8);
        MicroVm vm;
        try {
            vm = MicroVm.create(config, HostStdio.of(InputStream.nullInputStream(), serial), err,
                    (map, ram) -> KernelLoader.load(kernel, "vgpu.elf", config.append(), null, map, ram, err));
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot make the VM: " + e.getMessage()
                    + (messages.size() > 0 ? "; " + messages.toString(StandardCharsets.UTF_8).strip() : ""), e);
        }
        PathVm p = new PathVm(label, engine, vm, serial, messages);
        Thread.ofPlatform().name("vgpu-path-" + label).daemon(true).start(() -> {
            try {
                p.status.complete(vm.run());
            } catch (Throwable t) {
                p.status.completeExceptionally(t);
            }
        });
        return p;
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
        return status.isDone();
    }

    /** An error naming {@code what}, with the machine's messages and the driver's last lines. */
    IllegalStateException failure(String what) {
        String why = !status.isDone() ? "" : status.isCompletedExceptionally()
                ? " (the machine failed: " + status.exceptionNow().getMessage() + ")"
                : " (exit status " + status.getNow(-1) + ")";
        return new IllegalStateException(what + why + "; its messages: "
                + messages.toString(StandardCharsets.UTF_8).strip() + "; the driver's last lines:\n" + serial.tail());
    }

    /** Quits the machine if it runs, waits for it (10 s at most) and releases it; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            vm.quit();
            status.get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // The machine failed or would not stop: closing it stops its vCPUs all the same.
        } finally {
            vm.close();
        }
    }
}
