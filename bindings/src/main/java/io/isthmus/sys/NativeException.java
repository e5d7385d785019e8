package io.isthmus.sys;

/**
 * A failed system call: the operation that failed (e.g. {@code ioctl KVM_CREATE_VM on /dev/kvm}), errno,
 * its symbol and its text.
 *
 * <p>Immutable; safe to share between threads.
 */
public class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String operation;
    private final int errno;

    /** An exception for {@code operation} failing with {@code errno}. */
    public NativeException(String operation, int errno) {
        super(operation + ": " + Errno.symbol(errno) + " (" + Errno.text(errno) + ")");
        this.operation = operation;
        this.errno = errno;
    }

    /** The failed operation, naming the call and the object it was made on. */
    public String operation() {
        return operation;
    }

    /** The errno value the kernel returned. */
    public int errno() {
        return errno;
    }

    /** errno's symbol, e.g. {@code EBUSY}. */
    public String symbol() {
        return Errno.symbol(errno);
    }
}
