package io.isthmus.vmm.machine;

import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;

import java.io.FileDescriptor;
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
 */
final class SerialBackend {
    final OutputStream out;
    final InputStream in;

    private SerialBackend(OutputStream out, InputStream in) {
        this.out = out;
        this.in = in;
    }

    static SerialBackend open(VmConfig.Chardev c, String spec) {
        return switch (c.kind()) {
            // Unbuffered: each byte reaches stdout as the guest writes it, and nothing is pending at exit.
            case STDIO -> new SerialBackend(new FileOutputStream(FileDescriptor.out), new java.io.FileInputStream(FileDescriptor.in));
            case NULL, NONE -> new SerialBackend(OutputStream.nullOutputStream(), null);
            case FILE -> {
                try {
                    yield new SerialBackend(new FileOutputStream(c.path()), null);
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
            return new SerialBackend(holder.output(), holder.input());
        } catch (IOException e) {
            throw new OptionException("-serial " + spec, "Failed to create socket: " + e.getMessage());
        }
    }

    /** The connected client of a socket backend; output before a client connects is dropped, as in QEMU. */
    private static final class SocketHolder {
        private volatile SocketChannel channel;
        private final Object connected = new Object();

        void set(SocketChannel ch) {
            channel = ch;
            synchronized (connected) {
                connected.notifyAll();
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
}
