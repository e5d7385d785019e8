package io.isthmus.sched.engine;

/**
 * A {@link GpuEngine} that really runs vGPU requests: device memory, copies, the {@link Kernel} set. Items it executes
 * carry an {@link EngineTask} payload (the vGPU layer's requests); an item without one behaves as on a simulated
 * engine, for its {@link io.isthmus.sched.WorkItem#durationNanos()}.
 *
 * <p>Lifetime: made by its creator, owned by one scheduler, closed once after every context it opened. Thread-safety:
 * {@link #open} and every {@link GpuEngine} method on the scheduler's thread, except {@link #now()} and
 * {@link #wake()}, which any thread may call.
 */
public interface DeviceEngine extends GpuEngine, AutoCloseable {
    /** @return its name on the command line: sim, host or cuda */
    String name();

    /**
     * Makes a vGPU's context ({@code vgpu} names it in messages and on the device): {@code memoryBytes} of device memory (zeroed, so nothing of an earlier user
     * shows through) and {@code ram} made reachable for copies.
     *
     * @throws io.isthmus.sched.ConfigurationException when the device cannot provide it (out of memory), saying so
     */
    DeviceContext open(int vgpu, long memoryBytes, GuestRam ram);

    @Override
    void close();
}
