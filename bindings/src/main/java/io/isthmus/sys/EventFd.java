package io.isthmus.sys;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A Linux eventfd: a 64-bit counter the kernel can signal (irqfd, MSI triggers) and user space can wait on.
 *
 * <p>Lifetime: until {@link #close()}, which closes it once. Thread-safe: any thread may signal or read; each
 * call uses the calling thread's scratch memory and allocates nothing.
 */
public final class EventFd implements AutoCloseable {
    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** A new eventfd with counter 0 and {@code flags} ({@link Libc#EFD_NONBLOCK}, …); always close-on-exec. */
    public static EventFd create(int flags, String name) {
        return new EventFd(Fd.adopt(Libc.eventfd(0, flags | Libc.EFD_CLOEXEC), name));
    }

    /** The underlying descriptor, e.g. to hand to {@code KVM_IRQFD} or {@code VFIO_DEVICE_SET_IRQS}. */
    public Fd fd() {
        return fd;
    }

    /** Adds {@code value} to the counter. */
    public void signal(long value) {
        MemorySegment buf = Libc.threadScratch();
        buf.set(ValueLayout.JAVA_LONG, 0, value);
        fd.check(Libc.writeRaw(fd.get(), buf, 8), "write");
    }

    /** Reads and resets the counter; blocks while it is 0 unless non-blocking, then returns 0. */
    public long read() {
        MemorySegment buf = Libc.threadScratch();
        long r = Libc.readRaw(fd.get(), buf, 8);
        if (r == -Errno.EAGAIN) {
            return 0;
        }
        fd.check(r, "read");
        return buf.get(ValueLayout.JAVA_LONG, 0);
    }

    /**
     * Waits up to {@code timeoutMillis} for the counter to become non-zero, then reads it; 0 on timeout.
     */
    public long await(int timeoutMillis) {
        MemorySegment pfd = Libc.threadScratch().asSlice(16, 8);
        pfd.set(ValueLayout.JAVA_INT, 0, fd.get());
        pfd.set(ValueLayout.JAVA_SHORT, 4, (short) Libc.POLLIN);
        pfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        int r;
        do {
            r = Libc.pollRaw(pfd, 1, timeoutMillis);
        } while (r == -Errno.EINTR);
        fd.check(r, "poll");
        return r == 0 ? 0 : read();
    }

    @Override
    public void close() {
        fd.close();
    }
}
