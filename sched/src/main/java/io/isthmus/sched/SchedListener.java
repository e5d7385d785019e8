package io.isthmus.sched;

/**
 * Observes a {@link GpuScheduler}: metrics, tests, JFR. Called on the scheduler's thread, synchronously; must not block
 * and should not allocate (it runs once per slice and once per item).
 */
public interface SchedListener {
    /** Idle because no vGPU has work (or every vGPU with work is capped). */
    int IDLE_NO_WORK = 0;
    /** Idle because it is the turn of a vGPU without work under a non-work-conserving policy. */
    int IDLE_RESERVED_TURN = 1;
    /** Idle because it is the turn of an empty fixed-share slot. */
    int IDLE_EMPTY_SLOT = 2;

    /** A vGPU joined. */
    default void joined(int vgpu, VGpuConfig config, long now) {
    }

    /** A vGPU left (after draining, or with its work returned). */
    default void left(int vgpu, long now) {
    }

    /** An item started after waiting {@code waitNanos} since submission. */
    default void itemStarted(int vgpu, long waitNanos) {
    }

    /**
     * A slice ended.
     *
     * @param start   engine time the first item started
     * @param end     engine time the last item ended
     * @param granted the slice the policy granted
     * @param items   items run
     */
    default void slice(int vgpu, long start, long end, long granted, int items) {
    }

    /**
     * The policy charged {@code vgpu} {@code nanos} of engine time for the work of a slice just ended (what the engine
     * reported its items took, their completions' delivery included): the time its share is reckoned in.
     */
    default void charged(int vgpu, long nanos) {
    }

    /** The engine was idle from {@code start} to {@code end} for {@code reason} (IDLE_*), during {@code vgpu}'s turn or -1. */
    default void idle(long start, long end, int reason, int vgpu) {
    }

    /** The engine switched contexts, costing {@code cost} ns. */
    default void contextSwitch(int from, int to, long start, long cost) {
    }
}
