package io.isthmus.sched.engine;

/**
 * One vGPU's state on a {@link DeviceEngine}: its device memory (one contiguous region of
 * {@link #memoryBytes()}, addressed by offset; the vGPU's allocator hands out parts of it), the guest RAM it copies
 * from and to (registered with the device where the device needs that), and on a GPU its context or stream.
 *
 * <p>Every operation runs to completion and returns the device time it took, in ns, or {@link #FAILED} when the
 * device failed (then {@link #lastError()} says why). Arguments are already validated by the caller (offsets and
 * lengths inside the memory and the RAM region, buffers large enough for the kernel): a context does not check them
 * again. Nothing here allocates per call.
 *
 * <p>Lifetime: from {@link DeviceEngine#open} to {@link #close()} (once; frees the device memory and unregisters the
 * RAM). Thread-safety: one thread at a time, the scheduler's.
 */
public interface DeviceContext extends AutoCloseable {
    /** Returned by an operation the device failed. */
    long FAILED = -1;

    /** @return the size of its device memory, bytes */
    long memoryBytes();

    /** Copies {@code length} bytes from RAM region {@code region} at {@code ramOffset} to device {@code devOffset}. */
    long copyIn(int region, long ramOffset, long devOffset, long length);

    /** Copies {@code length} bytes from device {@code devOffset} to RAM region {@code region} at {@code ramOffset}. */
    long copyOut(long devOffset, int region, long ramOffset, long length);

    /**
     * Runs {@code kernel}.
     *
     * @param args its argument words, buffer words replaced by device offsets (at least {@link Kernel#MAX_ARGS})
     */
    long launch(Kernel kernel, long[] args);

    /** Waits until everything this context started has finished. */
    long fence();

    /** @return why the last operation returned {@link #FAILED}, or null */
    String lastError();

    @Override
    void close();
}
