package io.isthmus.kvm.run;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.Vcpu;
import io.isthmus.sys.Errno;
import io.isthmus.sys.KvmIoctl;
import io.isthmus.sys.Libc;
import io.isthmus.sys.NativeException;

/**
 * One platform thread running one {@link Vcpu}: {@code KVM_RUN}, dispatch IO/MMIO exits to the buses, repeat,
 * until an exit the {@link ExitHandler} declines, a failure, or {@link #stop()}. Other threads may
 * {@link #pause()}, {@link #resume()}, {@link #kick()} and {@link #stop()} it.
 *
 * <h2>Kicks</h2>
 * A kick must interrupt a vCPU that is already inside {@code KVM_RUN}, even a guest spinning without exits;
 * {@code immediate_exit} only covers the next entry. So, with no signal handler at all: the vCPU thread blocks
 * {@link #KICK_SIGNAL} in its own mask and tells KVM ({@code KVM_SET_SIGNAL_MASK}) to unblock it only while in
 * the guest. A kick is {@code tgkill} of that thread: inside {@code KVM_RUN} it forces an exit with
 * {@code EINTR}; outside, it stays pending and makes the next {@code KVM_RUN} return {@code EINTR} at once, so no
 * kick is lost between checking for a request and entering the guest. The thread then takes the pending signal
 * with {@code sigtimedwait}; it is never delivered. The thread's id is published only while the signal is
 * blocked, under a lock that kicks also take, so a kick never reaches a thread (or a reused thread id) that
 * would die of it.
 *
 * <h2>States</h2>
 * {@code RUNNING} ⇄ {@code PAUSED} → {@code FINISHED}. A paused vCPU is outside {@code KVM_RUN}, so its
 * registers can be read and written from the pausing thread.
 *
 * <p>The run loop allocates nothing per exit. Thread-safe: every public method may be called from any thread.
 */
public final class VcpuThread implements AutoCloseable {
    /**
     * The signal used for kicks: a real-time signal (SIGRTMIN + 6 with glibc) that neither the JVM nor glibc
     * uses. It is only ever sent to a thread that has it blocked.
     */
    public static final int KICK_SIGNAL = 40;

    /** The thread's state. */
    public enum State { STARTING, RUNNING, PAUSED, FINISHED }

    private static final int CMD_RUN = 0, CMD_PAUSE = 1, CMD_STOP = 2;

    private final Vcpu vcpu;
    private final ExitDispatcher dispatcher;
    private final ExitHandler handler;
    private final EntryHook entryHook; // null: none
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Object tidLock = new Object();

    private volatile int command;
    private volatile State state = State.STARTING;
    private volatile long exits;
    private volatile long kicks;
    private int tid; // guarded by tidLock; 0 when kicks must not be sent
    private VcpuExit result; // guarded by lock

    private VcpuThread(Vcpu vcpu, ExitDispatcher dispatcher, ExitHandler handler, EntryHook entryHook,
                       boolean paused) {
        this.vcpu = vcpu;
        this.dispatcher = dispatcher;
        this.handler = handler;
        this.entryHook = entryHook;
        this.command = paused ? CMD_PAUSE : CMD_RUN;
        this.thread = Thread.ofPlatform().name("vcpu-" + vcpu.id()).daemon(true).unstarted(this::runLoop);
    }

    /**
     * Starts a thread running {@code vcpu}, whose registers must already be set up.
     *
     * @param paused start in {@link State#PAUSED} (call {@link #resume()} to enter the guest)
     */
    public static VcpuThread start(Vcpu vcpu, ExitDispatcher dispatcher, ExitHandler handler, boolean paused) {
        return start(vcpu, dispatcher, handler, null, paused);
    }

    /**
     * As {@link #start(Vcpu, ExitDispatcher, ExitHandler, boolean)}, with {@code entryHook} (may be {@code null})
     * called before every {@code KVM_RUN}.
     */
    public static VcpuThread start(Vcpu vcpu, ExitDispatcher dispatcher, ExitHandler handler, EntryHook entryHook,
                                   boolean paused) {
        VcpuThread t = new VcpuThread(vcpu, dispatcher, handler, entryHook, paused);
        vcpu.attachRunner(t); // closing the vCPU (or its VM) now stops this thread first
        t.thread.start();
        return t;
    }

    /** Starts a thread running {@code vcpu} at once; see {@link #start(Vcpu, ExitDispatcher, ExitHandler, boolean)}. */
    public static VcpuThread start(Vcpu vcpu, ExitDispatcher dispatcher, ExitHandler handler) {
        return start(vcpu, dispatcher, handler, false);
    }

    public Vcpu vcpu() {
        return vcpu;
    }

    public State state() {
        return state;
    }

    /** Exits from {@code KVM_RUN} so far (kicks included). */
    public long exits() {
        return exits;
    }

    /** Kicks that interrupted {@code KVM_RUN} (or a pending entry) so far. */
    public long kicksTaken() {
        return kicks;
    }

    /**
     * Forces the vCPU out of {@code KVM_RUN} (or makes its next entry return at once); it then re-checks for
     * requests and, with none, enters the guest again. No-op once finished.
     */
    public void kick() {
        synchronized (tidLock) {
            if (tid != 0) {
                int r = Libc.tgkillRaw(Libc.getpid(), tid, KICK_SIGNAL);
                // EAGAIN: the real-time signal queue is full (RLIMIT_SIGPENDING), which only happens when kicks
                // pile up while the thread is out of KVM_RUN with the signal blocked (paused, say): kicks are
                // already pending, and one is all the next entry needs. Throwing would kill the caller, a device's
                // thread or a vCPU raising an interrupt.
                if (r < 0 && r != -Errno.ESRCH && r != -Errno.EAGAIN) {
                    throw new NativeException("tgkill vcpu-" + vcpu.id(), -r);
                }
            }
        }
    }

    /**
     * Takes the vCPU out of the guest and waits until it is {@link State#PAUSED} (or finished).
     *
     * @return whether it is paused (false when it had finished)
     */
    public boolean pause() {
        lock.lock();
        try {
            if (state == State.FINISHED) {
                return false;
            }
            if (command == CMD_RUN) {
                command = CMD_PAUSE;
            }
        } finally {
            lock.unlock();
        }
        kick();
        lock.lock();
        try {
            while (state != State.PAUSED && state != State.FINISHED) {
                changed.awaitUninterruptibly();
            }
            return state == State.PAUSED;
        } finally {
            lock.unlock();
        }
    }

    /** Lets a paused vCPU enter the guest again; no-op unless paused or starting paused. */
    public void resume() {
        lock.lock();
        try {
            if (command == CMD_PAUSE) {
                command = CMD_RUN;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops the vCPU wherever it is, waits for its thread to end, and returns how it ended. Called from the vCPU
     * thread itself (an {@link ExitHandler}), it only asks and returns {@code null}: the loop stops after the
     * handler returns.
     */
    public VcpuExit stop() {
        requestStop();
        if (Thread.currentThread() == thread) {
            return null;
        }
        return awaitExit(null);
    }

    /**
     * Asks the vCPU to stop and returns at once: it leaves the guest (kicked) and does not enter it again; its
     * thread then ends with {@link VcpuExit.Reason#STOPPED}. For callers that must not wait, such as a device
     * ending the machine from another vCPU's thread; {@link #awaitExit} waits for the end.
     */
    public void requestStop() {
        lock.lock();
        try {
            command = CMD_STOP;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (Thread.currentThread() != thread) {
            kick();
        }
    }

    /**
     * Waits for the thread to finish, up to {@code timeout} ({@code null}: forever).
     *
     * @return how it ended, or {@code null} on timeout
     */
    public VcpuExit awaitExit(Duration timeout) {
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (state != State.FINISHED) {
                if (timeout == null) {
                    changed.awaitUninterruptibly();
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return null;
                    }
                    try {
                        changed.await(left, TimeUnit.NANOSECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return null;
                    }
                }
            }
            return result;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #stop()}s the thread if it is still running. Does not close the vCPU. Closing the vCPU calls this. */
    @Override
    public void close() {
        if (state != State.FINISHED) {
            stop();
        }
    }

    private void setState(State s) {
        lock.lock();
        try {
            state = s;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void runLoop() {
        VcpuExit exit;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kickSet = arena.allocate(Libc.sigsetSize(), 8);
            MemorySegment oldSet = arena.allocate(Libc.sigsetSize(), 8);
            MemorySegment zeroTimeout = arena.allocate(16, 8); // struct timespec {0, 0}
            Libc.sigemptyset(kickSet);
            Libc.sigaddset(kickSet, KICK_SIGNAL);
            Libc.pthreadSigmask(Libc.SIG_BLOCK, kickSet, oldSet);
            try {
                // In the guest: the thread's own mask minus the kick signal. The kernel's sigset_t is the first
                // 8 bytes of glibc's 128-byte one (bit n-1 = signal n).
                long runMask = oldSet.get(JAVA_LONG, 0) & ~(1L << (KICK_SIGNAL - 1));
                vcpu.setSignalMask(runMask);
                synchronized (tidLock) {
                    tid = Libc.gettid();
                }
                try {
                    exit = loop(kickSet, zeroTimeout);
                } finally {
                    synchronized (tidLock) {
                        tid = 0;
                    }
                    drain(kickSet, zeroTimeout);
                }
            } finally {
                Libc.pthreadSigmask(Libc.SIG_SETMASK, oldSet, MemorySegment.NULL);
            }
        } catch (Throwable t) {
            exit = new VcpuExit(VcpuExit.Reason.ERROR, -1, 0, new long[0], null, null, t);
        }
        vcpu.detachRunner(this);
        lock.lock();
        try {
            result = exit;
            state = State.FINISHED;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void drain(MemorySegment kickSet, MemorySegment zeroTimeout) {
        while (Libc.sigtimedwaitRaw(kickSet, zeroTimeout) == KICK_SIGNAL) {
            // taken, never delivered
        }
    }

    /** The hot loop: allocation-free until it returns. */
    private VcpuExit loop(MemorySegment kickSet, MemorySegment zeroTimeout) {
        final Vcpu vcpu = this.vcpu;
        final KvmRun run = vcpu.run();
        final ExitDispatcher dispatcher = this.dispatcher;
        final ExitHandler handler = this.handler;
        final EntryHook entryHook = this.entryHook;
        setState(State.RUNNING);
        while (true) {
            int cmd = command;
            if (cmd != CMD_RUN) {
                if (cmd == CMD_STOP || !waitWhilePaused()) {
                    return report(VcpuExit.Reason.STOPPED, -1, null);
                }
                continue;
            }
            if (entryHook != null) {
                entryHook.beforeEntry(vcpu, run);
            }
            int r = vcpu.runRaw();
            if (r < 0) {
                if (r == -Errno.EINTR) {
                    kicks++;
                    drain(kickSet, zeroTimeout);
                    continue;
                }
                if (r == -Errno.EAGAIN) {
                    continue;
                }
                return report(VcpuExit.Reason.ERROR, -1,
                        new NativeException(vcpu.fd().describe(KvmIoctl.KVM_RUN), -r));
            }
            exits++;
            try {
                if (dispatcher.dispatch(run)) {
                    continue;
                }
                int reason = run.exitReason();
                if (reason == KvmRun.EXIT_INTR || handler.onExit(vcpu, run)) {
                    continue; // a stop() from the handler is seen at the top of the loop
                }
                return report(reasonOf(reason), reason, null);
            } catch (RuntimeException e) {
                return report(VcpuExit.Reason.ERROR, run.exitReason(), e);
            }
        }
    }

    /** Blocks while paused; returns false when asked to stop. */
    private boolean waitWhilePaused() {
        lock.lock();
        try {
            if (command == CMD_PAUSE) {
                state = State.PAUSED;
                changed.signalAll();
                while (command == CMD_PAUSE) {
                    changed.awaitUninterruptibly();
                }
            }
            if (command == CMD_STOP) {
                return false;
            }
            state = State.RUNNING;
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    private static VcpuExit.Reason reasonOf(int exitReason) {
        return switch (exitReason) {
            case KvmRun.EXIT_HLT -> VcpuExit.Reason.HLT;
            case KvmRun.EXIT_SHUTDOWN -> VcpuExit.Reason.SHUTDOWN;
            case KvmRun.EXIT_SYSTEM_EVENT -> VcpuExit.Reason.SYSTEM_EVENT;
            case KvmRun.EXIT_INTERNAL_ERROR -> VcpuExit.Reason.INTERNAL_ERROR;
            case KvmRun.EXIT_FAIL_ENTRY -> VcpuExit.Reason.FAIL_ENTRY;
            default -> VcpuExit.Reason.OTHER;
        };
    }

    /** Builds the report at the end of the loop; may allocate, the hot path is over. */
    private VcpuExit report(VcpuExit.Reason reason, int exitReason, Throwable error) {
        KvmRun run = vcpu.run();
        long code = 0;
        long[] data = new long[0];
        if (reason == VcpuExit.Reason.SYSTEM_EVENT) {
            code = run.systemEventType();
            data = words(run.systemEventNdata(), run::systemEventData);
        } else if (reason == VcpuExit.Reason.INTERNAL_ERROR) {
            code = run.internalSuberror();
            data = words(run.internalNdata(), run::internalData);
        } else if (reason == VcpuExit.Reason.FAIL_ENTRY) {
            code = run.failEntryReason();
        } else if (reason == VcpuExit.Reason.OTHER && exitReason == KvmRun.EXIT_UNKNOWN) {
            code = run.hardwareExitReason();
        }
        io.isthmus.kvm.Regs regs = null;
        io.isthmus.kvm.Sregs sregs = null;
        try {
            regs = vcpu.getRegs();
            sregs = vcpu.getSregs();
        } catch (RuntimeException e) {
            if (error == null) {
                error = e;
            }
        }
        return new VcpuExit(reason, exitReason, code, data, regs, sregs, error);
    }

    private static long[] words(int n, java.util.function.IntToLongFunction word) {
        long[] out = new long[Math.max(0, Math.min(n, 16))];
        for (int i = 0; i < out.length; i++) {
            out[i] = word.applyAsLong(i);
        }
        return out;
    }
}
