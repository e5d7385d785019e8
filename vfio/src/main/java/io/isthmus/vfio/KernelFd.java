package io.isthmus.vfio;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A descriptor obtained through a {@link VfioSys}, closed through it exactly once. After close, {@link #get()}
 * is -1, so a late call fails in the kernel with EBADF rather than reaching a reused number.
 */
final class KernelFd implements AutoCloseable {
    private final VfioSys sys;
    private final AtomicInteger fd;
    private final String name;

    KernelFd(VfioSys sys, int fd, String name) {
        this.sys = sys;
        this.fd = new AtomicInteger(fd);
        this.name = name;
    }

    int get() {
        return fd.get();
    }

    String name() {
        return name;
    }

    boolean closed() {
        return fd.get() < 0;
    }

    @Override
    public void close() {
        int old = fd.getAndSet(-1);
        if (old >= 0) {
            // close() releases the number even when it reports an error; nothing to retry or report usefully.
            sys.close(old);
        }
    }

    @Override
    public String toString() {
        return name + " (fd " + fd.get() + ")";
    }
}
