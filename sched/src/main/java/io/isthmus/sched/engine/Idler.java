package io.isthmus.sched.engine;

import java.util.concurrent.locks.LockSupport;

/**
 * How a real engine's scheduler thread waits for work: spins for {@link #SPIN_NANOS} watching for {@link #wake()}
 * (a request arriving within it starts without a wake-up), then parks until the deadline or a wake.
 *
 * <p>Lifetime: its engine's. Thread-safety: {@link #idleUntil} on the scheduler's thread; {@link #wake()} from any.
 */
public final class Idler {
    /** How long an idle engine spins before it parks, ns. */
    public static final long SPIN_NANOS = 20_000;

    private volatile Thread idler;
    private volatile boolean woken;

    /** Waits until {@code deadline} ({@link System#nanoTime()}) or a {@link #wake()}. */
    public void idleUntil(long deadline) {
        long spinEnd = Math.min(deadline, System.nanoTime() + SPIN_NANOS);
        while (!woken && System.nanoTime() - spinEnd < 0) {
            Thread.onSpinWait();
        }
        if (!woken) {
            idler = Thread.currentThread();
            // Re-checked after publishing idler: a wake between the check and the park unparks this thread, so the
            // park returns at once (LockSupport's permit); a wake before it is seen here.
            long left = deadline - System.nanoTime();
            if (!woken && left > 0) {
                LockSupport.parkNanos(this, left);
            }
            idler = null;
        }
        woken = false;
    }

    /** Ends an {@link #idleUntil} in progress, or the next one at once. Allocates nothing. */
    public void wake() {
        if (!woken) {
            woken = true;
        }
        Thread t = idler;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }
}
