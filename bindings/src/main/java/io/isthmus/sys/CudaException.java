package io.isthmus.sys;

/**
 * A failed CUDA driver call: the operation (e.g. {@code cuMemAlloc 64 MiB for vGPU 2}), the {@code CUresult}, its
 * name and the driver's description; or, with {@link #UNAVAILABLE} as the result, the reason the driver could not be
 * loaded at all.
 *
 * <p>Immutable; safe to share between threads.
 */
public class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** {@link #result()} when there is no driver to call: libcuda.so.1 is absent or {@code cuInit} failed. */
    public static final int UNAVAILABLE = -1;

    private final String operation;
    private final int result;

    /** An exception for {@code operation} failing with {@code result}; the driver names the result when loaded. */
    public CudaException(String operation, int result) {
        super(operation + ": " + CudaDriver.errorName(result) + " (" + CudaDriver.errorString(result) + ")");
        this.operation = operation;
        this.result = result;
    }

    /** The driver cannot be used at all, for {@code reason} (one line, saying what is needed). */
    CudaException(String reason) {
        super(reason);
        this.operation = "load libcuda.so.1";
        this.result = UNAVAILABLE;
    }

    /** The failed operation. */
    public String operation() {
        return operation;
    }

    /** The {@code CUresult}, or {@link #UNAVAILABLE}. */
    public int result() {
        return result;
    }
}
