package io.isthmus.sched.engine;

/**
 * An engine cannot be used on this machine (e.g. the CUDA engine without libcuda.so.1): one line saying what is
 * missing, for the command line to print as it is. Immutable.
 */
public final class EngineUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what is missing and what would provide it, one line */
    public EngineUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
