package io.isthmus.vmm.demo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import io.isthmus.vmm.boot.KernelLoader;
import io.isthmus.vmm.config.CommandLine;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.machine.HostStdio;
import io.isthmus.vmm.machine.MicroVm;

/**
 * One KVM guest of a demo, in this process: built from a QEMU-style command line (as {@code isthmus vmm} takes it)
 * with a kernel image given as bytes, run on its own thread, ended by {@link #quit()} as QMP's {@code quit} ends one.
 * What the machine reports (a failed vCPU, a broken device) is kept and shown by {@link #report()}.
 *
 * <p>Lifetime: {@link #start()} once, then {@link #quit()} and {@link #close()} (which waits for the machine and
 * releases it); closes once. Thread-safety: its methods from one controlling thread; the machine runs on its own.
 */
final class DemoVm implements AutoCloseable {
    /** The guest driver the jar ships (vmm/src/main/guest/build.sh). */
    static final String VGPU_GUEST = "/io/isthmus/vmm/guest/vgpu.elf";

    private final String name;
    private final MicroVm vm;
    private final ByteArrayOutputStream reports = new ByteArrayOutputStream();
    private Thread thread;
    private volatile int status = -1;
    private volatile Throwable failure;
    private boolean closed;

    /**
     * Builds the machine (nothing runs yet).
     *
     * @param name   the VM's name in messages
     * @param args   its command line, {@code -kernel NAME} naming {@code kernel} for messages
     * @param kernel the kernel image
     * @throws DemoMain.DemoException with the VMM's own message when the machine cannot be made
     */
    DemoVm(String name, List<String> args, byte[] kernel) {
        this(name, args, kernel, java.io.OutputStream.nullOutputStream());
    }

    /**
     * As {@link #DemoVm(String, List, byte[])}, with what the guest writes to {@code -serial stdio} going to
     * {@code serial}.
     */
    DemoVm(String name, List<String> args, byte[] kernel, java.io.OutputStream serial) {
        this.name = name;
        VmConfig config;
        try {
            if (!(CommandLine.parse(args.toArray(String[]::new)) instanceof CommandLine.Run run)) {
                throw new IllegalArgumentException("not a machine's command line: " + args);
            }
            config = run.config();
        } catch (OptionException e) {
            throw new DemoMain.DemoException(name + ": " + e.format("isthmus-vmm"));
        } catch (CommandLine.LogHelpException e) {
            throw new DemoMain.DemoException(name + ": " + e.getMessage());
        }
        PrintStream err = new PrintStream(reports, true, StandardCharsets.UTF_8);
        VmConfig c = config;
        HostStdio stdio = HostStdio.of(InputStream.nullInputStream(), serial);
        try {
            this.vm = MicroVm.create(c, stdio, err, (map, ram) -> KernelLoader.load(kernel, c.kernel(), c.append(),
                    c.initrd(), map, ram, err));
        } catch (io.isthmus.kvm.Kvm.KvmUnavailableException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new DemoMain.DemoException(name + ": the machine could not be made: " + e.getMessage());
        }
    }

    /** @return the shipped vGPU guest driver's image */
    static byte[] vgpuGuest() {
        try (InputStream in = DemoVm.class.getResourceAsStream(VGPU_GUEST)) {
            if (in == null) {
                throw new DemoMain.DemoException("the vGPU guest " + VGPU_GUEST + " is missing from the jar; rebuild"
                        + " with bin/isthmus");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new DemoMain.DemoException("cannot read the vGPU guest: " + e.getMessage());
        }
    }

    /** Runs the machine on its own thread. */
    void start() {
        thread = Thread.ofPlatform().name(name).daemon(true).start(() -> {
            try {
                status = vm.run();
            } catch (RuntimeException | Error e) {
                failure = e;
                status = 1;
            }
        });
    }

    /** @return whether the machine has ended */
    boolean ended() {
        return thread != null && !thread.isAlive();
    }

    /** @return its exit status once {@link #ended()}, else -1 */
    int status() {
        return status;
    }

    /** @return what the machine reported (its error output), and how it failed if it threw; empty when all went well */
    String report() {
        String r = reports.toString(StandardCharsets.UTF_8).strip();
        Throwable f = failure;
        return f == null ? r : (r.isEmpty() ? "" : r + "\n") + f;
    }

    /** Stops its vCPUs, as QMP's {@code stop} does: the guest submits nothing until {@link #resume()}. */
    void pause() {
        vm.stop();
    }

    /** Lets its vCPUs run again, as QMP's {@code cont} does. */
    void resume() {
        vm.cont();
    }

    /** Asks the machine to end, as QMP's {@code quit} does. */
    void quit() {
        vm.quit();
    }

    /** Waits (up to 30 s) for the machine to end, then releases it. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (thread != null) {
            vm.quit();
            try {
                thread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        vm.close();
    }
}
