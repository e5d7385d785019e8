package io.isthmus.vmm.machine;

import io.isthmus.sys.Termios;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;

import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a {@code -serial} character backend: the output stream the UART writes to and, where there is one,
 * the input it reads. Errors use QEMU's messages. Instances are owned by the machine for its lifetime.
 *
 * <p>{@code stdio} on a terminal puts the terminal in raw mode, as QEMU does, so that each key reaches the guest
 * as it is typed (no line editing, no echo; Ctrl-C still ends the VMM); {@link #restore} puts the saved settings
 * back, and a shutdown hook does it too for exits that do not go through the machine.
 *
 * <p>Lifetime: owned by one machine; {@link #close()} releases what opening made (a file, a listening socket and
 * its client) but never the caller's {@link HostStdio} streams.
 */
final class SerialBackend implements Closeable {
    final OutputStream out;
    final InputStream in;
    /** Undoes what opening did to the terminal; idempotent, callable from any thread. */
    final Runnable restore;
    private final Closeable resources;

    private SerialBackend(OutputStream out, InputStream in) {
        this(out, in, () -> { }, () -> { });
    }

    private SerialBackend(OutputStream out, InputStream in, Runnable restore, Closeable resources) {
        this.out = out;
        this.in = in;
        this.restore = restore;
        this.resources = resources;
    }

    /** stdio: the host's streams, written through byte by byte (nothing pending when the machine ends). */
    private static SerialBackend stdio(HostStdio stdio) {
        Termios saved = stdio.terminal() ? Termios.get(0) : null;
        if (saved == null) {
            return new SerialBackend(stdio.out(), stdio.in()); // a pipe, a file or a caller's stream: nothing to set
        }
        saved.copy().raw(true).set(0);
        Runnable restore = () -> {
            synchronized (saved) {
                saved.set(0);
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(restore, "restore-terminal"));
        return new SerialBackend(stdio.out(), stdio.in(), restore, () -> { });
    }

    static SerialBackend open(VmConfig.Chardev c, String spec, HostStdio stdio) {
        return switch (c.kind()) {
            case STDIO -> stdio(stdio);
            case NULL, NONE -> new SerialBackend(OutputStream.nullOutputStream(), null);
            case FILE -> {
                try {
                    FileOutputStream file = new FileOutputStream(c.path());
                    yield new SerialBackend(file, null, () -> { }, file);
                } catch (FileNotFoundException e) {
                    String loc = "-serial " + spec;
                    throw new OptionException(loc, "Could not open '" + c.path() + "': " + reason(c.path())
                            + "\nisthmus-vmm: " + loc + ": could not connect serial device to character backend '"
                            + spec + "'");
                }
            }
            case UNIX -> unix(c, spec);
        };
    }

    private static String reason(String path) {
        Path p = Path.of(path);
        Path parent = p.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            return "No such file or directory";
        }
        if (Files.isDirectory(p)) {
            return "Is a directory";
        }
        return "Permission denied";
    }

    /** A listening UNIX socket; with wait=on, blocks until the first client connects, as QEMU does. */
    private static SerialBackend unix(VmConfig.Chardev c, String spec) {
        try {
            Path path = Path.of(c.path());
            Files.deleteIfExists(path);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(path));
            SocketHolder holder = new SocketHolder();
            Closeable resources = () -> {
                try (server) {
                    holder.close();
                }
            };
            if (c.waitForClient()) {
                holder.set(server.accept());
            } else {
                Thread t = new Thread(() -> {
                    try {
                        holder.set(server.accept());
                    } catch (IOException e) {
                        // The socket closed: no client will come.
                    }
                }, "serial-accept");
                t.setDaemon(true);
                t.start();
            }
            return new SerialBackend(holder.output(), holder.input(), () -> { }, resources);
        } catch (IOException e) {
            throw new OptionException("-serial " + spec, "Failed to create socket: " + e.getMessage());
        }
    }

    /** The connected client of a socket backend; output before a client connects is dropped, as in QEMU. */
    private static final class SocketHolder {
        private volatile SocketChannel channel;
        private volatile boolean closed;
        private final Object connected = new Object();

        void set(SocketChannel ch) throws IOException {
            synchronized (connected) {
                if (closed) {
                    ch.close();
                    return;
                }
                channel = ch;
                connected.notifyAll();
            }
        }

        /** Closes the client, if any, and wakes a reader waiting for one (it then sees end of input). */
        void close() throws IOException {
            SocketChannel ch;
            synchronized (connected) {
                closed = true;
                ch = channel;
                channel = null;
                connected.notifyAll();
            }
            if (ch != null) {
                ch.close();
            }
        }

        OutputStream output() {
            return new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    SocketChannel ch = channel;
                    if (ch != null) {
                        try {
                            ch.write(ByteBuffer.wrap(new byte[] {(byte) b}));
                        } catch (IOException e) {
                            channel = null;
                        }
                    }
                }
            };
        }

        InputStream input() {
            return new InputStream() {
                @Override
                public int read() throws IOException {
                    byte[] b = new byte[1];
                    int n = read(b, 0, 1);
                    return n < 0 ? -1 : b[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    SocketChannel ch;
                    synchronized (connected) {
                        while ((ch = channel) == null) {
                            if (closed) {
                                return -1;
                            }
                            try {
                                connected.wait();
                            } catch (InterruptedException e) {
                                return -1;
                            }
                        }
                    }
                    return Channels.newInputStream(ch).read(b, off, len);
                }
            };
        }
    }

    /** Releases what {@link #open} made; the caller's stdio streams stay open. Idempotent. */
    @Override
    public void close() {
        try {
            resources.close();
        } catch (IOException e) {
            // Closing a file or socket the machine no longer uses: nothing the guest or the user can act on.
        }
    }
}
