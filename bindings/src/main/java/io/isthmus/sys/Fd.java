package io.isthmus.sys;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An owned file descriptor with a name for error messages ({@code /dev/kvm}, {@code kvm-vm},
 * {@code kvm-vcpu 0}).
 *
 * <p>Lifetime: from creation until {@link #close()}, which closes the descriptor exactly once however many
 * times and from however many threads it is called. After close, {@link #get()} returns -1, so a late call
 * fails in the kernel with {@code EBADF} instead of reaching whatever file reused the number.
 *
 * <p>Thread-safe: the ioctl methods may be called from any thread; closing while another thread is inside a
 * call on the same descriptor is the caller's race to avoid, as with any descriptor.
 */
public final class Fd implements AutoCloseable {
    private static final VarHandle FD;

    static {
        try {
            FD = MethodHandles.lookup().findVarHandle(Fd.class, "fd", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile int fd;
    private final String name;

    private Fd(int fd, String name) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd + " (" + name + ")");
        }
        this.fd = fd;
        this.name = name;
    }

    /** Opens {@code path} with {@code flags} ({@link Libc#O_RDWR} | {@link Libc#O_CLOEXEC}, …). */
    public static Fd open(String path, int flags) {
        return new Fd(Libc.open(path, flags), path);
    }

    /** Takes ownership of {@code fd}, which this object will close. */
    public static Fd adopt(int fd, String name) {
        return new Fd(fd, name);
    }

    /** The descriptor number, or -1 once closed. */
    public int get() {
        return fd;
    }

    /** The name used in error messages. */
    public String name() {
        return name;
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return fd < 0;
    }

    /** {@code ioctl(fd, request, 0)}; throws {@link NativeException} naming the request and this descriptor. */
    public int ioctl(long request) {
        return ioctl(request, 0L);
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument; throws on failure. */
    public int ioctl(long request, long arg) {
        int r = Libc.ioctl(fd, request, arg);
        if (r < 0) {
            throw new NativeException(describe(request), -r);
        }
        return r;
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument; throws on failure. */
    public int ioctl(long request, MemorySegment arg) {
        int r = Libc.ioctl(fd, request, arg);
        if (r < 0) {
            throw new NativeException(describe(request), -r);
        }
        return r;
    }

    /** {@code ioctl(fd, request, arg)}: the result or {@code -errno}; never throws, allocates nothing. */
    public int ioctlRaw(long request, long arg) {
        return Libc.ioctlRaw(fd, request, arg);
    }

    /** {@code ioctl(fd, request, arg)}: the result or {@code -errno}; never throws, allocates nothing. */
    public int ioctlRaw(long request, MemorySegment arg) {
        return Libc.ioctlRaw(fd, request, arg);
    }

    /** The operation text for an ioctl on this descriptor, e.g. {@code ioctl KVM_CREATE_VM on /dev/kvm}. */
    public String describe(long request) {
        return "ioctl " + IoctlNames.of(request) + " on " + name;
    }

    /** Throws a {@link NativeException} for {@code -errno} results, naming {@code operation} on this descriptor. */
    public long check(long result, String operation) {
        if (result < 0) {
            throw new NativeException(operation + " on " + name, (int) -result);
        }
        return result;
    }

    @Override
    public void close() {
        int old = (int) FD.getAndSet(this, -1);
        if (old >= 0) {
            int r = Libc.closeRaw(old);
            // close() always releases the number on Linux, even on EINTR, so there is nothing to retry.
            if (r < 0 && -r != Errno.EINTR) {
                throw new NativeException("close " + name, -r);
            }
        }
    }

    @Override
    public String toString() {
        return name + " (fd " + fd + ")";
    }
}
