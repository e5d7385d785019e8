package io.isthmus.lab;

/**
 * The lab could not be built, booted or read back: a missing tool or package, a guest that hung or crashed,
 * results that never arrived. The message says what failed and how to fix it; when a guest ran, it ends with
 * the tail of the guest's serial console.
 *
 * <p>Immutable; safe to share between threads.
 */
public final class LabException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A failure described by {@code message}. */
    public LabException(String message) {
        super(message);
    }

    /** A failure described by {@code message}, caused by {@code cause}. */
    public LabException(String message, Throwable cause) {
        super(message, cause);
    }
}
