package io.isthmus.vmm.machine;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;

/**
 * The host streams behind {@code -serial stdio}: the process's own standard input and output for the command
 * line, or any pair of streams for a machine run inside another program (the tests run many machines in one JVM).
 *
 * <p>Only the process's own stdio may be a terminal that {@code -serial stdio} puts into raw mode, as QEMU does;
 * other streams are used as they are. The machine neither closes these streams nor buffers them: each byte the
 * guest writes is written through. Immutable; the streams' own thread-safety applies.
 *
 * @param in       what the guest's UART receives (read on a daemon thread until it ends)
 * @param out      where the UART's transmitted bytes go
 * @param terminal whether {@code in} is file descriptor 0, so a terminal there may be switched to raw mode
 */
public record HostStdio(InputStream in, OutputStream out, boolean terminal) {
    public HostStdio {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(out, "out");
    }

    /** The process's file descriptors 0 and 1, unbuffered (nothing pending when the process ends). */
    public static HostStdio process() {
        return new HostStdio(new FileInputStream(FileDescriptor.in), new FileOutputStream(FileDescriptor.out), true);
    }

    /** {@code in} and {@code out}, never treated as a terminal. */
    public static HostStdio of(InputStream in, OutputStream out) {
        return new HostStdio(in, out, false);
    }
}
