package io.isthmus.vmm.machine;

import io.isthmus.kvm.Kvm;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.VcpuThread;
import io.isthmus.vmm.boot.BootState;
import io.isthmus.vmm.boot.GuestRam;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.device.MachineControl;
import io.isthmus.vmm.device.Serial16550;
import io.isthmus.vmm.device.Unassigned;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A microvm-like machine on KVM, and its control: the run state QMP sees and changes (stop, cont, system_reset,
 * quit), the lifecycle events it reports, and the one entry point that runs the machine.
 *
 * <p>The machine is made by {@link MachineBuilder} (RAM as QEMU's microvm lays it out, the vCPUs, the interrupt
 * controllers, the devices, the firmware tables) and run by {@link MachineLoop}; the parts are {@link Vcpus},
 * {@link Interrupts} and {@link DeviceManager}. When the guest ends the machine (isa-debug-exit, ACPI power-off) its
 * serial output stops at once and every vCPU is asked to stop, as QEMU's {@code exit()} from the vCPU thread would;
 * {@link #close()} then releases everything, so a process may run many machines, one after another or side by
 * side. Only the command line's entry point turns the status into the process's exit status.
 *
 * <p>Lifecycle: {@link #create}, then {@link #run} (once, on the caller's thread, until the machine ends), then
 * {@link #close()}. Thread-safe: QMP calls the control methods from its own thread, devices call
 * {@link MachineControl} from vCPU threads; run-state changes and vCPU (re)starts happen under this object's lock,
 * so a {@code stop} can never leave vCPUs a reset started running.
 */
public final class MicroVm implements MachineControl, AutoCloseable {
    /** Loads the kernel into RAM and returns the entry state; called at creation and on each reset. */
    @FunctionalInterface
    public interface Booter {
        BootState boot(MemoryMap map, GuestRam ram);
    }

    /** The run state QMP's query-status reports. */
    public enum RunState { PRELAUNCH, RUNNING, PAUSED, SHUTDOWN }

    private final VmConfig config;
    private final Kvm kvm;
    private final Vm vm;
    private final GuestMemory memory;
    private final Vcpus vcpus;
    private final Interrupts interrupts;
    private final DeviceManager devices;
    private final Serial16550 serial;
    private final SerialBackend serialBackend;
    private final Unassigned.Reports unassigned;
    private final MachineLoop loop;
    private final MachineBuilder.Parts parts;
    private final List<MachineListener> listeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile RunState state;

    MicroVm(MachineBuilder.Parts p, PrintStream err) {
        this.parts = p;
        this.config = p.config();
        this.kvm = p.kvm();
        this.vm = p.vm();
        this.memory = p.memory();
        this.vcpus = p.vcpus();
        this.interrupts = p.interrupts();
        this.devices = p.devices();
        this.serial = p.serial();
        this.serialBackend = p.serialBackend();
        this.unassigned = p.unassigned();
        this.loop = new MachineLoop(this, vcpus, interrupts, devices, p.boot(), serial::close, config.noReboot(),
                err, p.log());
        this.state = config.startPaused() ? RunState.PRELAUNCH : RunState.RUNNING;
    }

    /**
     * Builds the machine and loads the kernel; throws with a clear message when anything fails, having released
     * what it made.
     *
     * @param stdio the host streams {@code -serial stdio} uses
     * @param err   where the machine reports (unassigned accesses, a vCPU that failed)
     */
    public static MicroVm create(VmConfig config, HostStdio stdio, PrintStream err, Booter booter) {
        return MachineBuilder.build(config, stdio, err, booter);
    }

    /**
     * Starts the vCPUs (paused under {@code -S}) and serves the machine until it ends; returns the status QEMU
     * would exit with. The vCPUs have been asked to stop when it returns; {@link #close()} waits for them.
     */
    public int run() {
        synchronized (this) {
            startVcpus(config.startPaused());
        }
        return loop.run();
    }

    /** After a reset: the vCPUs start again, paused if the machine is (a {@code stop} or {@code -S} before). */
    synchronized void restartVcpus() {
        startVcpus(state == RunState.PAUSED || state == RunState.PRELAUNCH);
    }

    private void startVcpus(boolean paused) {
        if (loop.ending()) {
            return;
        }
        vcpus.start(new io.isthmus.kvm.run.ExitDispatcher(devices.pioBus(), devices.mmioBus()),
                id -> (vcpu, run) -> loop.handleExit(id, run), interrupts.picInjector(), paused);
    }

    // ---- events ----

    /** Adds a listener for lifecycle events. */
    public void addListener(MachineListener l) {
        listeners.add(l);
    }

    void emit(String event, boolean guest, String reason) {
        for (MachineListener l : listeners) {
            l.onEvent(event, guest, reason);
        }
    }

    /** The machine is shutting down: SHUTDOWN with QEMU's reason. */
    void shutdown(boolean guest, String reason) {
        state = RunState.SHUTDOWN;
        emit("SHUTDOWN", guest, reason);
    }

    // ---- MachineControl (vCPU threads) ----

    @Override
    public void exit(int status, String why) {
        if (why.startsWith("ACPI")) {
            shutdown(true, "guest-shutdown");
        }
        loop.finish(status);
    }

    @Override
    public void reset(String why) {
        loop.requestReset(why, true);
    }

    // ---- QMP ----

    /** The current run state. */
    public RunState state() {
        return state;
    }

    /** Whether the vCPUs are running. */
    public boolean running() {
        return state == RunState.RUNNING;
    }

    /** QMP {@code stop}: pauses all vCPUs; emits STOP if they were running. */
    public synchronized void stop() {
        if (state != RunState.RUNNING) {
            return;
        }
        for (VcpuThread t : vcpus.threads()) {
            t.pause();
        }
        state = RunState.PAUSED;
        emit("STOP", false, null);
    }

    /** QMP {@code cont}: resumes all vCPUs; emits RESUME. */
    public synchronized void cont() {
        if (state == RunState.RUNNING || state == RunState.SHUTDOWN) {
            return;
        }
        state = RunState.RUNNING;
        emit("RESUME", false, null);
        for (VcpuThread t : vcpus.threads()) {
            t.resume();
        }
    }

    /** QMP {@code system_reset}. */
    public void systemReset() {
        loop.requestReset("QMP system_reset", false);
    }

    /** QMP {@code quit}: after the reply, the main loop emits SHUTDOWN (host-qmp-quit) and returns 0. */
    public void quit() {
        loop.requestQuit();
    }

    /** Host thread ids of the vCPUs as far as known (0 until a vCPU first exits to user space). */
    public int[] vcpuThreadIds() {
        return vcpus.tids();
    }

    /** The configuration. */
    public VmConfig config() {
        return config;
    }

    /** The device manager (for tests and diagnostics: what is where). */
    public DeviceManager devices() {
        return devices;
    }

    /** Flushes output and gives the terminal its settings back; used by the caller before it exits. */
    public void flush() {
        serial.flush();
        unassigned.flushSummary();
        serialBackend.restore.run();
    }

    /** Unassigned accesses seen so far. */
    public long unassignedAccesses() {
        return unassigned.total();
    }

    /**
     * Releases the machine: every vCPU thread (stopped and waited for before the memory they run in is unmapped),
     * the devices (the PIT's thread, the serial port and its backend, files), the VM, its memory and
     * {@code /dev/kvm}. Call after {@link #run} has returned, or instead of it; idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        loop.abandon(); // a machine closed without ending: nothing may start again
        vcpus.close();
        devices.closeAll();
        vm.close();
        memory.close();
        kvm.close();
        serialBackend.restore.run();
        serialBackend.close();
    }
}
