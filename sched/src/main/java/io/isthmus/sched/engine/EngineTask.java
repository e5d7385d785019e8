package io.isthmus.sched.engine;

/**
 * Work a {@link DeviceEngine} runs: a {@link io.isthmus.sched.WorkItem}'s payload. The engine calls {@link #run()} on
 * the scheduler's thread, in its vGPU's context, and charges the vGPU the time the call took on the engine's clock
 * (measured by a real engine; the returned device time on a simulated one).
 */
@FunctionalInterface
public interface EngineTask {
    /** Runs the work to completion. @return the device time it took, ns (the modelled time on a simulated engine) */
    long run();
}
