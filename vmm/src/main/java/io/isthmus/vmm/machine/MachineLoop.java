package io.isthmus.vmm.machine;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.kvm.run.VcpuThread;

import java.io.PrintStream;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The machine's main loop: it waits for what ends or resets the machine (a device's exit or reset request, a
 * triple fault, a failed vCPU, QMP), runs resets on its own thread (the vCPUs stopped, the devices reset, the
 * kernel loaded again, the vCPUs restarted) and returns the exit status when the machine ends.
 *
 * <p>Ending is QEMU's {@code exit()} from the vCPU thread, turned into something a process can survive: the first
 * {@link #finish} silences the serial port (nothing the guest writes afterwards comes out), asks every vCPU to stop
 * without waiting (the caller may be one of them, inside a device) and wakes the loop, which returns the status.
 *
 * <p>Threading: {@link #run} on the machine's main thread; {@link #finish}, {@link #requestReset} and
 * {@link #requestQuit} from any thread; {@link #handleExit} on vCPU threads.
 */
final class MachineLoop {
    private sealed interface Event permits ExitEvent, ResetEvent, QuitEvent {}
    private record ExitEvent(int status) implements Event {}
    private record ResetEvent(String why, boolean guest) implements Event {}
    private record QuitEvent() implements Event {}

    private final MicroVm machine;
    private final Vcpus vcpus;
    private final Interrupts interrupts;
    private final DeviceManager devices;
    private final Runnable boot;
    private final Runnable silenceSerial;
    private final boolean noReboot;
    private final PrintStream err;
    private final VmmLog log; // null unless -d
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    /** Set by the first {@link #finish}: the machine is ending and no vCPU may be started again. */
    private final AtomicBoolean ending = new AtomicBoolean();

    MachineLoop(MicroVm machine, Vcpus vcpus, Interrupts interrupts, DeviceManager devices, Runnable boot,
                Runnable silenceSerial, boolean noReboot, PrintStream err, VmmLog log) {
        this.machine = machine;
        this.vcpus = vcpus;
        this.interrupts = interrupts;
        this.devices = devices;
        this.boot = boot;
        this.silenceSerial = silenceSerial;
        this.noReboot = noReboot;
        this.err = err;
        this.log = log;
    }

    /** Whether the machine is ending: vCPUs must not be started again. */
    boolean ending() {
        return ending.get();
    }

    /** Serves events until the machine ends; returns the status QEMU would exit with. */
    int run() {
        try {
            while (true) {
                Event e = events.poll(50, TimeUnit.MILLISECONDS);
                if (e == null) {
                    checkBsp();
                    continue;
                }
                switch (e) {
                    case ExitEvent x -> {
                        return x.status();
                    }
                    case QuitEvent q -> {
                        // After any reset still queued, as QEMU's main loop orders them.
                        machine.shutdown(false, "host-qmp-quit");
                        finish(0);
                        return 0;
                    }
                    case ResetEvent r -> reset(r);
                }
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            finish(1);
            return 1;
        }
    }

    /** The boot vCPU ended by itself: a triple fault resets the machine, anything else ends it with status 1. */
    private void checkBsp() {
        for (VcpuThread bsp : vcpus.threads()) {
            if (!ending.get() && bsp.state() == VcpuThread.State.FINISHED) {
                VcpuExit x = bsp.awaitExit(null);
                if (x.reason() == VcpuExit.Reason.SHUTDOWN) {
                    events.add(new ResetEvent("triple fault", true));
                } else if (x.reason() != VcpuExit.Reason.STOPPED) {
                    err.println("isthmus-vmm: vCPU 0 stopped: " + x.describe());
                    if (x.error() != null && x.error().getMessage() != null) {
                        err.println("isthmus-vmm: " + x.error().getMessage());
                    }
                    finish(1);
                }
            }
            return;
        }
    }

    private void reset(ResetEvent r) {
        if (ending.get()) {
            return;
        }
        if (noReboot) {
            machine.shutdown(r.guest(), r.guest() ? "guest-reset" : "host-qmp-system-reset");
            finish(0);
            return;
        }
        vcpus.stopAll();
        machine.emit("RESET", r.guest(), r.guest() ? "guest-reset" : "host-qmp-system-reset");
        // As QEMU's qemu_devices_reset, then the CPUs' reset and the firmware's boot.
        devices.resetAll();
        vcpus.reset();
        boot.run();
        interrupts.resetPit();
        vcpus.makeRunnableAfterReset();
        machine.restartVcpus();
    }

    /**
     * Ends the machine with {@code status}, from any thread; the first call wins. The serial port is flushed and
     * then silenced, every vCPU asked to stop, and {@link #run} returns the status.
     */
    void finish(int status) {
        if (!ending.compareAndSet(false, true)) {
            return;
        }
        if (log != null) {
            log.info("exit status " + status);
        }
        silenceSerial.run();
        vcpus.requestStopAll();
        events.add(new ExitEvent(status));
    }

    /** The machine is being closed: nothing may start again (a no-op once it ended). */
    void abandon() {
        if (ending.compareAndSet(false, true)) {
            vcpus.requestStopAll();
        }
    }

    /** A guest's (or QMP's, {@code guest} false) reset request; honours -no-reboot. */
    void requestReset(String why, boolean guest) {
        events.add(new ResetEvent(why, guest));
    }

    /** QMP {@code quit}: SHUTDOWN (host-qmp-quit), then status 0. */
    void requestQuit() {
        events.add(new QuitEvent());
    }

    /** Exits that are neither I/O nor MMIO, on vCPU {@code id}'s thread; whether the vCPU goes on. */
    boolean handleExit(int id, KvmRun run) {
        vcpus.recordTid(id);
        int reason = run.exitReason();
        if (reason == KvmRun.EXIT_HLT || reason == KvmRun.EXIT_INTR || reason == KvmRun.EXIT_IRQ_WINDOW_OPEN) {
            return true;
        }
        if (reason == KvmRun.EXIT_IOAPIC_EOI) {
            interrupts.eoi(run.eoiVector(), id);
            return true;
        }
        if (reason == KvmRun.EXIT_SYSTEM_EVENT) {
            if (run.systemEventType() == 2) { // KVM_SYSTEM_EVENT_RESET
                requestReset("KVM system event reset", true);
            } else {
                machine.shutdown(true, "guest-shutdown");
                finish(0);
            }
            return false;
        }
        return false;
    }
}
